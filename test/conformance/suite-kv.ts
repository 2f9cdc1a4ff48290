/** Key-value behaviour: round-trips, revisions, prefix ranges, txn compare semantics. */
import { expect, it } from 'vitest';
import { cmp, EtcdError, op, text } from '../../control/etcd/index.js';
import type { SuiteContext } from './suite.js';
import { uniquePrefix } from './targets.js';

export function kvTests(ctx: SuiteContext): void {
  it('round-trips text, binary and empty values (Buffer out)', async () => {
    const p = uniquePrefix('roundtrip');
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await ctx.client.put(`${p}text`, 'héllo wörld ✓');
    await ctx.client.put(`${p}bin`, binary);
    await ctx.client.put(`${p}empty`, '');
    expect(text((await ctx.client.get(`${p}text`))?.value)).toBe('héllo wörld ✓');
    expect((await ctx.client.get(`${p}bin`))?.value.equals(binary)).toBe(true);
    const empty = await ctx.client.get(`${p}empty`);
    expect(empty?.value.length).toBe(0);
    expect(empty?.version).toBe(1n);
    expect(await ctx.client.get(`${p}missing`)).toBeUndefined();
  });

  it('advances the revision by one per write and tracks create/mod revision and version', async () => {
    const k = `${uniquePrefix('rev')}k`;
    const r1 = (await ctx.client.put(k, 'a')).header.revision;
    const r2 = await ctx.client.put(k, 'b', { prevKv: true });
    expect(r2.header.revision).toBe(r1 + 1n);
    expect(text(r2.prevKv?.value)).toBe('a');
    const kv = await ctx.client.get(k);
    expect([kv?.createRevision, kv?.modRevision, kv?.version]).toEqual([r1, r1 + 1n, 2n]);
    const del = await ctx.client.delete(k);
    expect([del.header.revision, del.deleted]).toEqual([r1 + 2n, 1n]);
    const nothing = await ctx.client.delete(k);
    expect([nothing.header.revision, nothing.deleted]).toEqual([r1 + 2n, 0n]); // no write, no new revision
    await ctx.client.put(k, 'c');
    const again = await ctx.client.get(k);
    expect([again?.createRevision, again?.version]).toEqual([r1 + 3n, 1n]);
    expect(text((await ctx.client.get(k, { revision: r1 }))?.value)).toBe('a');
  });

  it('ranges over a prefix with limit, count, keys-only and count-only', async () => {
    const p = uniquePrefix('range');
    for (const k of ['a/1', 'a/2', 'a/3', 'ab', 'a']) await ctx.client.put(p + k, `v-${k}`);
    const all = await ctx.client.range(`${p}a/`, { prefix: true });
    expect(all.kvs.map((kv) => text(kv.key))).toEqual([`${p}a/1`, `${p}a/2`, `${p}a/3`]);
    expect([all.count, all.more]).toEqual([3n, false]);
    const limited = await ctx.client.range(`${p}a/`, { prefix: true, limit: 2 });
    expect([limited.kvs.length, limited.count, limited.more]).toEqual([2, 3n, true]);
    const keysOnly = await ctx.client.range(`${p}a/`, { prefix: true, keysOnly: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0 && kv.key.length > 0)).toBe(true);
    const countOnly = await ctx.client.range(`${p}a/`, { prefix: true, countOnly: true });
    expect([countOnly.kvs.length, countOnly.count]).toEqual([0, 3n]);
    const between = await ctx.client.range(`${p}a/2`, { rangeEnd: `${p}ab` });
    expect(between.kvs.map((kv) => text(kv.key))).toEqual([`${p}a/2`, `${p}a/3`]);
    const removed = await ctx.client.delete(`${p}a/`, { prefix: true, prevKv: true });
    expect(removed.prevKvs.map((kv) => text(kv.value))).toEqual(['v-a/1', 'v-a/2', 'v-a/3']);
    expect((await ctx.client.range(p, { prefix: true })).kvs.map((kv) => text(kv.key))).toEqual([`${p}a`, `${p}ab`]);
  });

  it('prefix ranges over binary keys ending in 0xff include exactly the keys under the prefix', async () => {
    const p = Buffer.from(uniquePrefix('ff'));
    const key = (...tail: number[]) => Buffer.concat([p, Buffer.from(tail)]);
    for (const k of [key(0x61, 0xff), key(0x61, 0xff, 0x01), key(0x61, 0xfe), key(0x62)]) await ctx.client.put(k, 'x');
    const got = await ctx.client.range(key(0x61, 0xff), { prefix: true });
    expect(got.kvs.map((kv) => kv.key.subarray(p.length).toString('hex'))).toEqual(['61ff', '61ff01']);
  });

  it('creates a key only if absent (create_revision == 0 and version == 0, as Flannel does)', async () => {
    const k = `${uniquePrefix('cas')}10.5.72.0-24`;
    const create = (v: string, c = cmp.create(k, '=', 0)) =>
      ctx.client.txn({ compare: [c], success: [op.put(k, v)], failure: [op.range(k)] });
    const first = await create('first');
    expect(first.succeeded).toBe(true);
    expect(first.responses[0].type).toBe('put');
    const second = await create('second');
    expect(second.succeeded).toBe(false);
    const seen = second.responses[0];
    expect(seen.type === 'range' && text(seen.range.kvs[0].value)).toBe('first');
    expect((await create('third', cmp.version(k, '=', 0))).succeeded).toBe(false);
    expect(text((await ctx.client.get(k))?.value)).toBe('first');
  });

  it('evaluates VALUE, MOD, VERSION and LEASE compares and gives all writes of a txn one revision', async () => {
    const p = uniquePrefix('txn');
    const put = await ctx.client.put(`${p}k`, 'v1');
    const rev = put.header.revision;
    const check = async (c: ReturnType<typeof cmp.value>) => (await ctx.client.txn({ compare: [c] })).succeeded;
    expect(await check(cmp.value(`${p}k`, '=', 'v1'))).toBe(true);
    expect(await check(cmp.value(`${p}k`, '!=', 'v1'))).toBe(false);
    expect(await check(cmp.mod(`${p}k`, '=', rev))).toBe(true);
    expect(await check(cmp.mod(`${p}k`, '<', rev))).toBe(false);
    expect(await check(cmp.version(`${p}k`, '>', 0))).toBe(true);
    expect(await check(cmp.lease(`${p}k`, '=', 0))).toBe(true);
    const multi = await ctx.client.txn({
      compare: [cmp.value(`${p}k`, '=', 'v1')],
      success: [op.put(`${p}a`, '1'), op.put(`${p}b`, '2'), op.delete(`${p}k`)],
    });
    expect(multi.header.revision).toBe(rev + 1n);
    const kvs = (await ctx.client.range(p, { prefix: true })).kvs;
    expect(kvs.map((kv) => [text(kv.key), kv.modRevision])).toEqual([
      [`${p}a`, rev + 1n],
      [`${p}b`, rev + 1n],
    ]);
  });

  it('reports the server version and status (store revision, member as leader)', async () => {
    const rev = (await ctx.client.put(`${uniquePrefix('status')}k`, 'v')).header.revision;
    expect((await ctx.client.version()).etcdserver).toMatch(/^3\.\d+\.\d+/);
    const st = await ctx.client.status();
    expect(st.header.revision).toBeGreaterThanOrEqual(rev);
    expect(st.version).toMatch(/^3\.\d+\.\d+/);
    expect(st.leader).toBe(st.header.memberId);
  });

  it('rejects bad requests with etcd codes kept on the error', async () => {
    const p = uniquePrefix('bad');
    const future = await ctx.client.range(`${p}x`, { revision: 1n << 40n }).catch((e: unknown) => e);
    expect(future).toBeInstanceOf(EtcdError);
    expect([(future as EtcdError).code, (future as EtcdError).grpcCode]).toEqual(['VXTUN_ERR_REGISTRY', 11]);
    expect((future as EtcdError).etcdMessage).toMatch(/future revision/);
    const dup = await ctx.client.txn({ success: [op.put(`${p}d`, '1'), op.put(`${p}d`, '2')] }).catch((e: unknown) => e);
    expect([(dup as EtcdError).grpcCode, (dup as EtcdError).etcdMessage]).toEqual([3, 'etcdserver: duplicate key given in txn request']);
    const empty = await ctx.client.put('', 'x').catch((e: unknown) => e);
    expect([(empty as EtcdError).grpcCode, (empty as EtcdError).etcdMessage]).toEqual([3, 'etcdserver: key is not provided']);
    expect(await ctx.client.get(`${p}d`)).toBeUndefined();
  });
}
