/** Leases: minimum TTL, attach, keepalive, revoke and expiry removing keys (TTL tests use etcd's 2 s minimum). */
import { expect, it } from 'vitest';
import { EtcdError, text, type WatchEvent } from '../../control/etcd/index.js';
import type { SuiteContext } from './suite.js';
import { uniquePrefix } from './targets.js';

export function leaseTests(ctx: SuiteContext): void {
  it('grants with the minimum TTL, an explicit ID, and refuses a second grant of the same ID', async () => {
    const small = await ctx.client.leaseGrant(1);
    expect(small.ttl).toBe(2); // raised to the 2 s minimum
    expect(small.id).toBeGreaterThan(0n);
    const id = (1n << 60n) + BigInt(Math.floor(Math.random() * 1e9)); // beyond 2^53: must survive as bigint
    const explicit = await ctx.client.leaseGrant(60, id);
    expect([explicit.id, explicit.ttl]).toEqual([id, 60]);
    const again = await ctx.client.leaseGrant(60, id).catch((e: unknown) => e);
    expect([(again as EtcdError).grpcCode, (again as EtcdError).etcdMessage]).toEqual([9, 'etcdserver: lease already exists']);
    expect(await ctx.client.leases()).toEqual(expect.arrayContaining([small.id, id]));
    await ctx.client.leaseRevoke(id);
    await ctx.client.leaseRevoke(small.id);
  });

  it('attaches keys to a lease, lists them, and revoking deletes them in one revision', async () => {
    const p = uniquePrefix('revoke');
    const lease = await ctx.client.leaseGrant(60);
    await ctx.client.put(`${p}a`, '1', { lease: lease.id });
    const last = await ctx.client.put(`${p}b`, '2', { lease: lease.id });
    expect((await ctx.client.get(`${p}a`))?.lease).toBe(lease.id);
    const ttl = await ctx.client.leaseTimeToLive(lease.id, { keys: true });
    expect(ttl?.grantedTtl).toBe(60);
    expect(ttl?.ttl).toBeGreaterThan(55);
    expect(ttl?.keys.map((k) => text(k)).sort()).toEqual([`${p}a`, `${p}b`]);
    expect((await ctx.client.leaseKeepAliveOnce(lease.id)).ttl).toBe(60);
    const revokedAt = await ctx.client.leaseRevoke(lease.id);
    expect(revokedAt).toBe(last.header.revision + 1n);
    expect((await ctx.client.range(p, { prefix: true })).count).toBe(0n);
    expect(await ctx.client.leaseTimeToLive(lease.id)).toBeNull();
    const revokeAgain = await ctx.client.leaseRevoke(lease.id).catch((e: unknown) => e);
    expect((revokeAgain as EtcdError).code).toBe('VXTUN_ERR_LEASE_NOT_FOUND');
    const keep = await ctx.client.leaseKeepAliveOnce(lease.id).catch((e: unknown) => e);
    expect((keep as EtcdError).code).toBe('VXTUN_ERR_LEASE_NOT_FOUND');
    const put = await ctx.client.put(`${p}c`, '3', { lease: lease.id }).catch((e: unknown) => e);
    expect([(put as EtcdError).code, (put as EtcdError).grpcCode]).toEqual(['VXTUN_ERR_LEASE_NOT_FOUND', 5]);
  });

  it('expires keys of a lease that is not kept alive (watchers see the DELETE) and keeps a renewed one', async () => {
    const p = uniquePrefix('expiry');
    const start = Date.now();
    const dying = await ctx.client.leaseGrant(2);
    const kept = await ctx.client.leaseGrant(2);
    await ctx.client.put(`${p}dying`, 'x', { lease: dying.id });
    await ctx.client.put(`${p}kept`, 'y', { lease: kept.id });
    const deletes: WatchEvent[] = [];
    const w = ctx.client.watch(p, { prefix: true, prevKv: true }, (evs) => deletes.push(...evs.filter((e) => e.type === 'DELETE')));
    await w.ready;
    let goneAfter = -1;
    for (let i = 0; i < 50 && Date.now() - start < 4500; i++) {
      // bounded: 50 polls, 4.5 s
      await new Promise((r) => setTimeout(r, 100));
      if (i % 5 === 4) await ctx.client.leaseKeepAliveOnce(kept.id);
      if (goneAfter < 0 && (await ctx.client.get(`${p}dying`)) === undefined) goneAfter = Date.now() - start;
      if (goneAfter >= 0 && deletes.length > 0 && Date.now() - start > 2600) break;
    }
    w.close();
    expect(goneAfter).toBeGreaterThan(1000);
    expect(goneAfter).toBeLessThanOrEqual(3000 + 100); // within TTL + 1 s (+ one 100 ms poll)
    expect(deletes.map((e) => [text(e.kv.key), e.prevKv?.lease])).toEqual([[`${p}dying`, dying.id]]);
    expect(text((await ctx.client.get(`${p}kept`))?.value)).toBe('y');
    await ctx.client.leaseRevoke(kept.id);
  });
}
