/**
 * Request builders (range/put/delete options, txn compares and ops) and response decoders, in the gateway's JSON.
 * Enum values are sent as names and int64 values as strings, which every etcd from 3.4 on accepts.
 */
import { VxtunError } from '../../dataplane/errors.js';
import { prefixEnd } from '../etcd-wire.js';
import { b64, decodeHeader, decodeKv, decodeKvs, int64, type Bytes } from './codec.js';
import type { DeleteResult, PutResult, RangeResult, TxnOpResult, TxnResult } from './types.js';

export interface RangeOptions {
  /** Every key that starts with `key`. */
  prefix?: boolean;
  /** Explicit end of the range (exclusive); overrides `prefix`. */
  rangeEnd?: Bytes;
  limit?: number;
  /** Read at a past revision (fails with VXTUN_ERR_COMPACTED when compacted). */
  revision?: bigint | number;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface PutOptions {
  lease?: bigint;
  prevKv?: boolean;
}

export interface DeleteOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  prevKv?: boolean;
}

export type JsonObject = Record<string, unknown>;

/** The base64 range_end of a request: an explicit `rangeEnd`, or the end of `key` as a prefix, or none (one key). */
export function rangeEndOf(key: Bytes, o: { prefix?: boolean; rangeEnd?: Bytes }): string | undefined {
  if (o.rangeEnd !== undefined) return b64(o.rangeEnd);
  return o.prefix === true ? b64(prefixEnd(key)) : undefined;
}

export function rangeRequest(key: Bytes, o: RangeOptions = {}): JsonObject {
  return {
    key: b64(key),
    range_end: rangeEndOf(key, o),
    limit: o.limit === undefined ? undefined : String(o.limit),
    revision: o.revision === undefined ? undefined : String(o.revision),
    keys_only: o.keysOnly || undefined,
    count_only: o.countOnly || undefined,
  };
}

export function putRequest(key: Bytes, value: Bytes, o: PutOptions = {}): JsonObject {
  return {
    key: b64(key),
    value: b64(value),
    lease: o.lease === undefined || o.lease === 0n ? undefined : String(o.lease),
    prev_kv: o.prevKv || undefined,
  };
}

export function deleteRequest(key: Bytes, o: DeleteOptions = {}): JsonObject {
  return { key: b64(key), range_end: rangeEndOf(key, o), prev_kv: o.prevKv || undefined };
}

/** Compare operators as written in clientv3 (`Compare(Version(k), "=", 0)`). */
export type CompareOp = '=' | '!=' | '>' | '<';
const RESULT: Record<CompareOp, string> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '>': 'GREATER', '<': 'LESS' };

export interface Compare {
  readonly json: JsonObject;
}

function compare(target: string, field: string, key: Bytes, op: CompareOp, value: string, o: { prefix?: boolean } = {}): Compare {
  return { json: { key: b64(key), range_end: rangeEndOf(key, o), target, result: RESULT[op], [field]: value } };
}

/**
 * Typed compare builders. `cmp.version(k, '=', 0)` and `cmp.create(k, '=', 0)` both mean "k does not exist",
 * which is how Flannel creates a subnet lease only if nobody holds it.
 */
export const cmp = {
  version: (key: Bytes, op: CompareOp, v: bigint | number, o?: { prefix?: boolean }) =>
    compare('VERSION', 'version', key, op, String(v), o),
  create: (key: Bytes, op: CompareOp, rev: bigint | number, o?: { prefix?: boolean }) =>
    compare('CREATE', 'create_revision', key, op, String(rev), o),
  mod: (key: Bytes, op: CompareOp, rev: bigint | number, o?: { prefix?: boolean }) =>
    compare('MOD', 'mod_revision', key, op, String(rev), o),
  value: (key: Bytes, op: CompareOp, v: Bytes, o?: { prefix?: boolean }) => compare('VALUE', 'value', key, op, b64(v), o),
  lease: (key: Bytes, op: CompareOp, id: bigint | number, o?: { prefix?: boolean }) => compare('LEASE', 'lease', key, op, String(id), o),
};

export interface Op {
  readonly json: JsonObject;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: Op[];
  failure?: Op[];
}

export const op = {
  range: (key: Bytes, o?: RangeOptions): Op => ({ json: { request_range: rangeRequest(key, o) } }),
  put: (key: Bytes, value: Bytes, o?: PutOptions): Op => ({ json: { request_put: putRequest(key, value, o) } }),
  delete: (key: Bytes, o?: DeleteOptions): Op => ({ json: { request_delete_range: deleteRequest(key, o) } }),
  txn: (t: TxnRequest): Op => ({ json: { request_txn: txnRequest(t) } }),
};

export function txnRequest(t: TxnRequest): JsonObject {
  return {
    compare: (t.compare ?? []).map((c) => c.json),
    success: (t.success ?? []).map((o) => o.json),
    failure: (t.failure ?? []).map((o) => o.json),
  };
}

export function decodeRange(o: JsonObject): RangeResult {
  return { header: decodeHeader(o.header), kvs: decodeKvs(o.kvs), more: o.more === true, count: int64(o.count) };
}

export function decodePut(o: JsonObject): PutResult {
  return { header: decodeHeader(o.header), prevKv: o.prev_kv === undefined ? undefined : decodeKv(o.prev_kv) };
}

export function decodeDelete(o: JsonObject): DeleteResult {
  return { header: decodeHeader(o.header), deleted: int64(o.deleted), prevKvs: decodeKvs(o.prev_kvs) };
}

export function decodeTxn(o: JsonObject): TxnResult {
  const responses = Array.isArray(o.responses) ? o.responses.map(decodeTxnOp) : [];
  return { header: decodeHeader(o.header), succeeded: o.succeeded === true, responses };
}

function decodeTxnOp(r: JsonObject): TxnOpResult {
  if (r.response_range !== undefined) return { type: 'range', range: decodeRange(r.response_range as JsonObject) };
  if (r.response_put !== undefined) return { type: 'put', put: decodePut(r.response_put as JsonObject) };
  if (r.response_delete_range !== undefined) return { type: 'delete', delete: decodeDelete(r.response_delete_range as JsonObject) };
  if (r.response_txn !== undefined) return { type: 'txn', txn: decodeTxn(r.response_txn as JsonObject) };
  throw new VxtunError(
    'VXTUN_ERR_REGISTRY',
    `registry sent a txn response item of unknown kind (${Object.keys(r).join(',') || 'empty'}); check that it speaks the etcd v3 API`,
  );
}
