/** The store's records, shaped like etcd's mvccpb messages so both transports can emit them unchanged. */
export interface KeyValue {
  key: Buffer;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Buffer;
  /** Lease ID as a decimal string ("0" = none): IDs exceed 2^53. */
  lease: string;
}

export const EVENT_PUT = 0;
export const EVENT_DELETE = 1;

export interface Event {
  type: typeof EVENT_PUT | typeof EVENT_DELETE;
  kv: KeyValue;
  prev_kv?: KeyValue;
}

export interface RevisionEvents {
  rev: number;
  events: Event[];
}

/** One durable change, as written to the write-ahead log. Keys and values are base64. */
export type WalOp = { k: string; v?: string; l?: string } | { k: string; d: 1 };
export type WalRecord =
  | { t: 'w'; rev: number; ops: WalOp[] }
  | { t: 'g'; id: string; ttl: number }
  | { t: 'r'; id: string; rev: number; ops: WalOp[] }
  | { t: 'c'; rev: number };

export const EMPTY = Buffer.alloc(0);

/** Keys are indexed as latin1 strings: one char per byte, so string order is etcd's byte order. */
export const keyId = (key: Buffer): string => key.toString('latin1');
export const keyBytes = (id: string): Buffer => Buffer.from(id, 'latin1');
