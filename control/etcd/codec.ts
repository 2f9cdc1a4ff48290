/**
 * etcd's JSON gateway conventions, both ways: bytes are base64, int64 are decimal strings, zero values are omitted.
 * Everything decoded here tolerates a missing field by reading it as the proto zero value.
 */
import type { KeyValue, ResponseHeader } from './types.js';

export type Bytes = Buffer | string;

export function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

export function b64(b: Bytes): string {
  return toBuffer(b).toString('base64');
}

export function unb64(s: unknown): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'base64') : Buffer.alloc(0);
}

/** int64/uint64 as etcd emits them (a JSON string; numbers are accepted too). Missing means 0. */
export function int64(v: unknown): bigint {
  if (typeof v === 'string' && v !== '') return BigInt(v);
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  return 0n;
}

/** Small int64 fields (TTLs in seconds) as numbers. */
export function int(v: unknown): number {
  return Number(int64(v));
}

export function decodeHeader(h: unknown): ResponseHeader {
  const o = (h ?? {}) as Record<string, unknown>;
  return {
    clusterId: int64(o.cluster_id),
    memberId: int64(o.member_id),
    revision: int64(o.revision),
    raftTerm: int64(o.raft_term),
  };
}

export function decodeKv(kv: unknown): KeyValue {
  const o = (kv ?? {}) as Record<string, unknown>;
  return {
    key: unb64(o.key),
    value: unb64(o.value),
    createRevision: int64(o.create_revision),
    modRevision: int64(o.mod_revision),
    version: int64(o.version),
    lease: int64(o.lease),
  };
}

export function decodeKvs(list: unknown): KeyValue[] {
  return Array.isArray(list) ? list.map(decodeKv) : [];
}

/** For callers that store text: `text(kv.value)`. */
export function text(b: Buffer | undefined): string {
  return b === undefined ? '' : b.toString('utf8');
}
