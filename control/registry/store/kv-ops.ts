import { Errors } from '../wire/rpc-error.js';
import type { Store } from './store.js';
import { keyId, type KeyValue } from './types.js';
import {
  num,
  leaseIdOf,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type InnerHeader,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from './requests.js';

/** etcd's --max-txn-ops default. */
export const MAX_TXN_OPS = 128;
/** etcd's --max-request-bytes default. */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's gRPC receive limit: --max-request-bytes plus 512 KiB of overhead; bigger messages never reach etcd's own check. */
export const MAX_RECEIVE_BYTES = MAX_REQUEST_BYTES + 512 * 1024;

/** Bytes of keys and values a write carries (what etcd's request-size limit is about). */
export function payloadBytes(req: PutRequest | TxnRequest): number {
  if ('compare' in req || 'success' in req || 'failure' in req) {
    const t = req as TxnRequest;
    let n = 0;
    for (const c of t.compare ?? []) n += (c.key?.length ?? 0) + (c.value?.length ?? 0) + (c.range_end?.length ?? 0);
    for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) {
      if (op.request_put) n += payloadBytes(op.request_put);
      else if (op.request_txn) n += payloadBytes(op.request_txn);
      else n += (op.request_range?.key?.length ?? 0) + (op.request_delete_range?.key?.length ?? 0);
    }
    return n;
  }
  const p = req as PutRequest;
  return (p.key?.length ?? 0) + (p.value?.length ?? 0);
}

export function checkRequestSize(req: PutRequest | TxnRequest): void {
  if (payloadBytes(req) > MAX_REQUEST_BYTES) throw Errors.requestTooLarge();
}

const SORT_NONE = 0,
  SORT_ASCEND = 1,
  SORT_DESCEND = 2;
const TARGET_KEY = 0;
const CMP_EQUAL = 0,
  CMP_GREATER = 1,
  CMP_LESS = 2,
  CMP_NOT_EQUAL = 3;
const CT_VERSION = 0,
  CT_CREATE = 1,
  CT_MOD = 2,
  CT_VALUE = 3,
  CT_LEASE = 4;

/** etcd's range_end: empty = one key, "\0" = every key >= key, else [key, range_end). */
export function rangeBounds(key: Buffer, rangeEnd: Buffer | undefined): { from: string; to: string | undefined } {
  const from = keyId(key);
  if (!rangeEnd || rangeEnd.length === 0) return { from, to: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { from, to: '' };
  return { from, to: keyId(rangeEnd) };
}

/** Whether key id lies in bounds made by rangeBounds. */
export function inRange(r: { from: string; to: string | undefined }, id: string): boolean {
  return r.to === undefined ? id === r.from : id >= r.from && (r.to === '' || id < r.to);
}

function requireKey(key: Buffer | undefined): Buffer {
  if (!key || key.length === 0) throw Errors.keyNotProvided();
  return key;
}

export function checkRange(store: Store, req: RangeRequest): void {
  requireKey(req.key);
  store.checkReadRevision(num(req.revision));
}

export function range(store: Store, req: RangeRequest): RangeResponse {
  checkRange(store, req);
  const atRev = num(req.revision) > 0 ? num(req.revision) : Infinity;
  const { from, to } = rangeBounds(req.key!, req.range_end);
  const [minMod, maxMod, minCreate, maxCreate] = [
    req.min_mod_revision,
    req.max_mod_revision,
    req.min_create_revision,
    req.max_create_revision,
  ].map(num);
  let kvs = store.keyspace.range(from, to, atRev);
  if (minMod || maxMod || minCreate || maxCreate) {
    kvs = kvs.filter(
      (kv) =>
        (!minMod || kv.mod_revision >= minMod) &&
        (!maxMod || kv.mod_revision <= maxMod) &&
        (!minCreate || kv.create_revision >= minCreate) &&
        (!maxCreate || kv.create_revision <= maxCreate),
    );
  }
  const count = kvs.length;
  let order = req.sort_order ?? SORT_NONE;
  const target = req.sort_target ?? TARGET_KEY;
  if (order === SORT_NONE && target !== TARGET_KEY) order = SORT_ASCEND;
  if (order !== SORT_NONE && !(order === SORT_ASCEND && target === TARGET_KEY)) {
    const field = sortField(target);
    kvs = [...kvs].sort((a, b) => compareBy(field(a), field(b)));
    if (order === SORT_DESCEND) kvs.reverse();
  }
  const limit = num(req.limit);
  const more = limit > 0 && kvs.length > limit;
  if (more) kvs = kvs.slice(0, limit);
  const resp: RangeResponse = {};
  if (!req.count_only && kvs.length > 0)
    resp.kvs = req.keys_only ? kvs.map(({ value: _v, ...rest }) => ({ ...rest, value: Buffer.alloc(0) })) : kvs;
  if (more) resp.more = true;
  if (count > 0) resp.count = count;
  return resp;
}

function sortField(target: number): (kv: KeyValue) => number | Buffer {
  switch (target) {
    case 1:
      return (kv) => kv.version;
    case 2:
      return (kv) => kv.create_revision;
    case 3:
      return (kv) => kv.mod_revision;
    case 4:
      return (kv) => kv.value;
    default:
      return (kv) => kv.key;
  }
}
const compareBy = (a: number | Buffer, b: number | Buffer): number =>
  typeof a === 'number' ? a - (b as number) : Buffer.compare(a, b as Buffer);

export function checkPut(store: Store, req: PutRequest): void {
  const key = requireKey(req.key);
  const lease = leaseIdOf(req.lease);
  if (req.ignore_value && req.value && req.value.length > 0) throw Errors.valueProvided();
  if (req.ignore_lease && lease !== '0') throw Errors.leaseProvided();
  if ((req.ignore_value || req.ignore_lease) && !store.keyspace.get(keyId(key))) throw Errors.keyNotFound();
  if (lease !== '0' && !store.leases.get(lease)) throw Errors.leaseNotFound();
}

/** Applies a checked put inside a write session. */
export function put(store: Store, req: PutRequest): PutResponse {
  const key = req.key!;
  const cur = req.ignore_value || req.ignore_lease ? store.keyspace.get(keyId(key)) : undefined;
  const value = req.ignore_value ? cur!.value : (req.value ?? Buffer.alloc(0));
  const lease = req.ignore_lease ? cur!.lease : leaseIdOf(req.lease);
  const prev = store.applyPut(key, value, lease);
  return req.prev_kv && prev ? { prev_kv: prev } : {};
}

export function deleteRange(store: Store, req: DeleteRangeRequest): DeleteRangeResponse {
  const { from, to } = rangeBounds(requireKey(req.key), req.range_end);
  const prevs: KeyValue[] = [];
  for (const id of store.keyspace.liveIds(from, to)) {
    const prev = store.applyDelete(id);
    if (prev) prevs.push(prev);
  }
  const resp: DeleteRangeResponse = {};
  if (prevs.length > 0) resp.deleted = prevs.length;
  if (req.prev_kv && prevs.length > 0) resp.prev_kvs = prevs;
  return resp;
}

/** Structure checks that need no state: op counts, and no key written twice in one branch. */
export function checkTxnShape(req: TxnRequest): void {
  if ((req.compare?.length ?? 0) > MAX_TXN_OPS || (req.success?.length ?? 0) > MAX_TXN_OPS || (req.failure?.length ?? 0) > MAX_TXN_OPS) {
    throw Errors.tooManyOps();
  }
  for (const c of req.compare ?? []) requireKey(c.key);
  for (const branch of [req.success ?? [], req.failure ?? []]) {
    const puts = new Set<string>();
    const deletes: { from: string; to: string | undefined }[] = [];
    collectWrites(branch, puts, deletes);
    for (const id of puts) {
      if (deletes.some((d) => inRange(d, id))) throw Errors.duplicateKey();
    }
    for (const op of branch) if (op.request_txn) checkTxnShape(op.request_txn);
  }
}

function collectWrites(ops: RequestOp[], puts: Set<string>, deletes: { from: string; to: string | undefined }[]): void {
  for (const op of ops) {
    if (op.request_put) {
      const id = keyId(requireKey(op.request_put.key));
      if (puts.has(id)) throw Errors.duplicateKey();
      puts.add(id);
    } else if (op.request_delete_range) {
      deletes.push(rangeBounds(requireKey(op.request_delete_range.key), op.request_delete_range.range_end));
    } else if (op.request_txn) {
      for (const branch of [op.request_txn.success ?? [], op.request_txn.failure ?? []]) collectWrites(branch, puts, deletes);
    } else if (op.request_range) {
      requireKey(op.request_range.key);
    } else {
      // An operation with no request set (or only fields this version does not know), as etcd's checkRequestOp.
      throw Errors.keyNotFound();
    }
  }
}

/** The branch each (nested) txn takes, decided on the state before the txn, as etcd does. */
interface TxnPath {
  succeeded: boolean;
  nested: TxnPath[];
}

function choosePath(store: Store, req: TxnRequest): TxnPath {
  const succeeded = (req.compare ?? []).every((c) => evaluate(store, c));
  const ops = (succeeded ? req.success : req.failure) ?? [];
  const nested: TxnPath[] = [];
  for (const op of ops) {
    if (op.request_range) checkRange(store, op.request_range);
    else if (op.request_put) checkPut(store, op.request_put);
    else if (op.request_txn) nested.push(choosePath(store, op.request_txn));
  }
  return { succeeded, nested };
}

function evaluate(store: Store, c: Compare): boolean {
  const { from, to } = rangeBounds(c.key!, c.range_end);
  const kvs = store.keyspace.range(from, to);
  const target = c.target ?? CT_VERSION;
  if (kvs.length === 0) {
    if (target === CT_VALUE) return false;
    return compareOne(c, target, undefined);
  }
  return kvs.every((kv) => compareOne(c, target, kv));
}

function compareOne(c: Compare, target: number, kv: KeyValue | undefined): boolean {
  let d: number;
  switch (target) {
    case CT_VALUE:
      d = Buffer.compare(kv?.value ?? Buffer.alloc(0), c.value ?? Buffer.alloc(0));
      break;
    case CT_CREATE:
      d = cmp(kv?.create_revision ?? 0, num(c.create_revision));
      break;
    case CT_MOD:
      d = cmp(kv?.mod_revision ?? 0, num(c.mod_revision));
      break;
    case CT_LEASE: {
      const a = BigInt(kv?.lease ?? '0'),
        b = BigInt(leaseIdOf(c.lease));
      d = a < b ? -1 : a > b ? 1 : 0;
      break;
    }
    case CT_VERSION:
      d = cmp(kv?.version ?? 0, num(c.version));
      break;
    default:
      throw Errors.invalid(`unknown compare target ${target}`);
  }
  switch (c.result ?? CMP_EQUAL) {
    case CMP_EQUAL:
      return d === 0;
    case CMP_GREATER:
      return d > 0;
    case CMP_LESS:
      return d < 0;
    case CMP_NOT_EQUAL:
      return d !== 0;
    default:
      throw Errors.invalid(`unknown compare result ${c.result}`);
  }
}
const cmp = (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Runs a txn as one revision. Everything that can fail is checked before the first write,
 * so a rejected txn changes nothing.
 */
export function txn(store: Store, req: TxnRequest): { resp: TxnResponse; record: ReturnType<Store['write']>['record'] } {
  checkTxnShape(req);
  const path = choosePath(store, req);
  const inner: InnerHeader = { revision: 0 };
  const { result, record } = store.write(() => applyTxn(store, req, path, inner));
  inner.revision = store.rev;
  return { resp: result, record };
}

function applyTxn(store: Store, req: TxnRequest, path: TxnPath, header: InnerHeader): TxnResponse {
  const ops = (path.succeeded ? req.success : req.failure) ?? [];
  const responses: ResponseOp[] = [];
  let nestedIdx = 0;
  for (const op of ops) {
    if (op.request_range) {
      const r = range(store, op.request_range);
      responses.push({ response_range: { header, ...r } });
    } else if (op.request_put) {
      responses.push({ response_put: { header, ...put(store, op.request_put) } });
    } else if (op.request_delete_range) {
      responses.push({ response_delete_range: { header, ...deleteRange(store, op.request_delete_range) } });
    } else if (op.request_txn) {
      responses.push({ response_txn: { header, ...applyTxn(store, op.request_txn, path.nested[nestedIdx++], header) } });
    }
  }
  const resp: TxnResponse = {};
  if (path.succeeded) resp.succeeded = true;
  if (responses.length > 0) resp.responses = responses;
  return resp;
}
