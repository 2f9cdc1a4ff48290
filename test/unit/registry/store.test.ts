import { describe, expect, it } from 'vitest';
import { Store } from '../../../control/registry/store/store.js';
import { checkPut, deleteRange, put, range, txn } from '../../../control/registry/store/kv-ops.js';
import type { PutRequest, TxnRequest } from '../../../control/registry/store/requests.js';
import { RpcError } from '../../../control/registry/wire/rpc-error.js';

const b = (s: string) => Buffer.from(s);
function doPut(s: Store, req: PutRequest) {
  checkPut(s, req);
  return s.write(() => put(s, req));
}
const keys = (kvs: { key: Buffer }[] | undefined) => (kvs ?? []).map((kv) => kv.key.toString());
function rpcErr(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error('expected an RpcError');
}

describe('store: revisions and ranges', () => {
  it('starts at revision 1 and bumps once per write; versions and create revisions follow etcd', () => {
    const s = new Store();
    expect(s.rev).toBe(1);
    doPut(s, { key: b('a'), value: b('1') });
    doPut(s, { key: b('a'), value: b('2') });
    const kv = range(s, { key: b('a') }).kvs![0];
    expect([kv.create_revision, kv.mod_revision, kv.version, kv.value.toString()]).toEqual([2, 3, 2, '2']);
    // Delete then re-create starts a new generation.
    s.write(() => deleteRange(s, { key: b('a') }));
    doPut(s, { key: b('a'), value: b('3') });
    const again = range(s, { key: b('a') }).kvs![0];
    expect([again.create_revision, again.version]).toEqual([5, 1]);
  });

  it('range_end: prefix, "\\0" = all keys >= key, limit keeps count, keys_only/count_only', () => {
    const s = new Store();
    for (const k of ['a', 'b/1', 'b/2', 'b/3', 'c']) doPut(s, { key: b(k), value: b('v' + k) });
    expect(keys(range(s, { key: b('b/'), range_end: b('b0') }).kvs)).toEqual(['b/1', 'b/2', 'b/3']);
    expect(keys(range(s, { key: b('b/2'), range_end: Buffer.from([0]) }).kvs)).toEqual(['b/2', 'b/3', 'c']);
    expect(keys(range(s, { key: Buffer.from([0]), range_end: Buffer.from([0]) }).kvs)).toHaveLength(5);
    const lim = range(s, { key: b('b/'), range_end: b('b0'), limit: '2' });
    expect([keys(lim.kvs), lim.more, lim.count]).toEqual([['b/1', 'b/2'], true, 3]);
    expect(range(s, { key: b('b/'), range_end: b('b0'), count_only: true })).toEqual({ count: 3 });
    expect(range(s, { key: b('a'), keys_only: true }).kvs![0].value.length).toBe(0);
    expect(keys(range(s, { key: b('b/'), range_end: b('b0'), sort_order: 2 }).kvs)).toEqual(['b/3', 'b/2', 'b/1']);
    expect(range(s, { key: b('zz') })).toEqual({});
  });

  it('reads at a past revision, and refuses compacted or future revisions', () => {
    const s = new Store();
    doPut(s, { key: b('k'), value: b('old') }); // rev 2
    doPut(s, { key: b('k'), value: b('new') }); // rev 3
    expect(range(s, { key: b('k'), revision: 2 }).kvs![0].value.toString()).toBe('old');
    expect(rpcErr(() => range(s, { key: b('k'), revision: 9 })).message).toBe('etcdserver: mvcc: required revision is a future revision');
    s.compact(3);
    expect(rpcErr(() => range(s, { key: b('k'), revision: 2 })).message).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(range(s, { key: b('k'), revision: 3 }).kvs![0].value.toString()).toBe('new');
    expect(rpcErr(() => s.compact(3)).grpcCode).toBe(11);
  });
});

describe('store: txn', () => {
  const createIfAbsent = (k: string, v: string): TxnRequest => ({
    compare: [{ key: b(k), target: 1, result: 0, create_revision: '0' }],
    success: [{ request_put: { key: b(k), value: b(v) } }],
    failure: [{ request_range: { key: b(k) } }],
  });

  it('create-if-absent succeeds once; the failed branch reads the winner and omits succeeded', () => {
    const s = new Store();
    const first = txn(s, createIfAbsent('lease', 'A'));
    expect(first.resp.succeeded).toBe(true);
    expect(first.record).toBeDefined();
    const second = txn(s, createIfAbsent('lease', 'B'));
    expect(second.resp.succeeded).toBeUndefined();
    expect(second.record).toBeUndefined();
    expect(second.resp.responses![0].response_range!.kvs![0].value.toString()).toBe('A');
  });

  it('is one revision; later ops see earlier ones; compares on VALUE, MOD, VERSION, LEASE', () => {
    const s = new Store();
    doPut(s, { key: b('x'), value: b('5') });
    const r = txn(s, {
      compare: [
        { key: b('x'), target: 3, result: 0, value: b('5') },
        { key: b('x'), target: 2, result: 2, mod_revision: '3' },
      ],
      success: [
        { request_put: { key: b('x'), value: b('6') } },
        { request_put: { key: b('y'), value: b('7') } },
        { request_range: { key: b('x') } },
      ],
    });
    expect(r.resp.succeeded).toBe(true);
    expect(s.rev).toBe(3);
    expect(r.resp.responses![2].response_range!.kvs![0].value.toString()).toBe('6');
    expect(txn(s, { compare: [{ key: b('x'), target: 0, result: 1, version: '5' }] }).resp.succeeded).toBeUndefined();
    expect(txn(s, { compare: [{ key: b('x'), target: 4, result: 0, lease: '0' }] }).resp.succeeded).toBe(true);
    expect(txn(s, { compare: [{ key: b('missing'), target: 3, result: 3, value: b('') }] }).resp.succeeded).toBeUndefined();
  });

  it('rejects too many ops, duplicate keys and unknown leases without writing anything', () => {
    const s = new Store();
    const many = Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b('k' + i) } }));
    expect(rpcErr(() => txn(s, { success: many })).message).toBe('etcdserver: too many operations in txn request');
    expect(rpcErr(() => txn(s, { success: [{ request_put: { key: b('a') } }, { request_put: { key: b('a') } }] })).message).toBe(
      'etcdserver: duplicate key given in txn request',
    );
    expect(
      rpcErr(() => txn(s, { success: [{ request_put: { key: b('a') } }, { request_put: { key: b('b'), lease: '42' } }] })).grpcCode,
    ).toBe(5);
    expect(s.rev).toBe(1);
    expect(range(s, { key: Buffer.from([0]), range_end: Buffer.from([0]) })).toEqual({});
  });
});

describe('store: leases', () => {
  it('raises TTL to the minimum, revokes keys in one revision, replays to the same state', () => {
    let now = 0;
    const s = new Store(() => now);
    const records = [];
    const g = s.grant('0', 1);
    records.push(g.record);
    expect(g.lease.ttl).toBe(2);
    const id = g.lease.id;
    for (const k of ['l1', 'l2']) records.push(doPut(s, { key: b(k), value: b('v'), lease: id }).record);
    expect(rpcErr(() => s.grant(id, 10)).message).toBe('etcdserver: lease already exists');
    now = 2500;
    expect(s.leases.expired().map((l) => l.id)).toEqual([id]);
    const revoked = s.revoke(id);
    records.push(revoked);
    expect(s.rev).toBe(4);
    expect(s.history[s.history.length - 1].events.map((e) => [e.type, e.kv.key.toString()])).toEqual([
      [1, 'l1'],
      [1, 'l2'],
    ]);
    const copy = new Store(() => now);
    for (const r of records) copy.replay(r!);
    expect(copy.rev).toBe(4);
    expect(copy.leases.size).toBe(0);
    expect(range(copy, { key: b('l'), range_end: b('m') })).toEqual({});
  });
});
