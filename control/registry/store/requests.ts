/**
 * Request and response messages as both transports decode them (see wire/gateway-json.ts): proto field
 * names, int64 as decimal strings, bytes as Buffer, enums as numbers, absent fields undefined.
 */
import type { KeyValue } from './types.js';

type I64 = string | number | undefined;

export interface RangeRequest {
  key?: Buffer;
  range_end?: Buffer;
  limit?: I64;
  revision?: I64;
  sort_order?: number;
  sort_target?: number;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: I64;
  max_mod_revision?: I64;
  min_create_revision?: I64;
  max_create_revision?: I64;
}
export interface PutRequest {
  key?: Buffer;
  value?: Buffer;
  lease?: I64;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}
export interface DeleteRangeRequest {
  key?: Buffer;
  range_end?: Buffer;
  prev_kv?: boolean;
}
export interface Compare {
  result?: number;
  target?: number;
  key?: Buffer;
  range_end?: Buffer;
  version?: I64;
  create_revision?: I64;
  mod_revision?: I64;
  value?: Buffer;
  lease?: I64;
}
export interface RequestOp {
  request_range?: RangeRequest;
  request_put?: PutRequest;
  request_delete_range?: DeleteRangeRequest;
  request_txn?: TxnRequest;
}
export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface InnerHeader {
  revision: number;
}
export interface RangeResponse {
  header?: unknown;
  kvs?: KeyValue[];
  more?: boolean;
  count?: number;
}
export interface PutResponse {
  header?: unknown;
  prev_kv?: KeyValue;
}
export interface DeleteRangeResponse {
  header?: unknown;
  deleted?: number;
  prev_kvs?: KeyValue[];
}
export interface ResponseOp {
  response_range?: RangeResponse;
  response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse;
  response_txn?: TxnResponse;
}
export interface TxnResponse {
  header?: unknown;
  succeeded?: boolean;
  responses?: ResponseOp[];
}

/** int64 field to a JS number; revisions and counts stay far below 2^53. */
export function num(v: I64): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v);
}

/** Lease IDs keep full precision as canonical decimal strings. */
export function leaseIdOf(v: I64): string {
  if (v === undefined) return '0';
  return BigInt(v).toString();
}
