/**
 * EtcdLeaseStore against Debian's etcd 3.4.23 and the embedded registry: keys, values and etcd leases as flanneld
 * leaves them, create-if-absent that loses cleanly, renewal onto a fresh etcd lease, and the watch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../control/etcd/index.js';
import { parseNetworkConfig } from '../../../control/subnet/config.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';
import { encodeLeaseAttrs, vxlanLeaseAttrs } from '../../../control/subnet/lease.js';
import { LeaseManager } from '../../../control/subnet/manager.js';
import { EtcdLeaseStore, type LeaseChange } from '../../../control/subnet/store.js';
import { embedded, etcd3423, uniquePrefix, type RunningServer } from '../../conformance/targets.js';

const sn = (s: string) => parseSubnet4(s)!;
const value = (ip: string) => encodeLeaseAttrs(vxlanLeaseAttrs(ip, 1, '02:00:00:00:00:01'));
const silent = { info() {}, warn() {}, error() {} };

describe.each([embedded, etcd3423])('lease store on $name', (target) => {
  let server: RunningServer;
  let client: EtcdClient;
  beforeAll(async () => {
    server = await target.start();
    client = new EtcdClient({ endpoints: [server.url] });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it("creates a lease only where none exists, under Flannel's key, bound to an etcd lease of the TTL", async () => {
    const prefix = uniquePrefix('store').slice(0, -1);
    const store = new EtcdLeaseStore(client, prefix);
    expect(await store.createIfAbsent(sn('10.244.3.0/24'), value('198.18.0.1'), 600)).toBe(600);
    expect(await store.createIfAbsent(sn('10.244.3.0/24'), value('198.18.0.2'), 600)).toBeNull();
    const kv = await client.get(`${prefix}/subnets/10.244.3.0-24`);
    expect(kv?.value.toString()).toBe(value('198.18.0.1'));
    const ttl = await client.leaseTimeToLive(kv!.lease);
    expect(ttl!.grantedTtl).toBe(600);
    expect(ttl!.ttl).toBeGreaterThan(590);
  });

  it("update moves the key onto a fresh etcd lease (flanneld's renewal) and list reads it back", async () => {
    const prefix = uniquePrefix('store').slice(0, -1);
    const store = new EtcdLeaseStore(client, prefix);
    await store.createIfAbsent(sn('10.244.4.0/24'), value('198.18.0.1'), 600);
    const before = (await client.get(`${prefix}/subnets/10.244.4.0-24`))!.lease;
    expect(await store.update(sn('10.244.4.0/24'), value('198.18.0.1'), 900)).toBe(900);
    const after = (await client.get(`${prefix}/subnets/10.244.4.0-24`))!.lease;
    expect(after).not.toBe(before);
    await client.put(`${prefix}/subnets/not-a-subnet`, 'x');
    const { leases } = await store.list();
    expect(leases.map((l) => [formatSubnet4(l.subnet), l.value])).toEqual([['10.244.4.0/24', value('198.18.0.1')]]);
    await store.delete(sn('10.244.4.0/24'));
    expect((await store.list()).leases).toEqual([]);
  });

  it('watch gives the listing, then puts and deletes', async () => {
    const prefix = uniquePrefix('store').slice(0, -1);
    const store = new EtcdLeaseStore(client, prefix);
    await store.createIfAbsent(sn('10.244.5.0/24'), value('198.18.0.5'), 600);
    const seen: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const w = store.watch({
      snapshot: (ls) => {
        seen.push(`snapshot ${ls.map((l) => formatSubnet4(l.subnet)).join(',')}`);
        void store.createIfAbsent(sn('10.244.6.0/24'), value('198.18.0.6'), 600).then(() => store.delete(sn('10.244.5.0/24')));
      },
      changes: (cs: LeaseChange[]) => {
        for (const c of cs) seen.push(c.type === 'put' ? `put ${formatSubnet4(c.lease.subnet)}` : `delete ${formatSubnet4(c.subnet)}`);
        if (seen.length >= 3) done();
      },
      unreachable: (err) => seen.push(`unreachable ${err.message}`),
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, 5000))]);
    w.close();
    expect(seen).toEqual(['snapshot 10.244.5.0/24', 'put 10.244.6.0/24', 'delete 10.244.5.0/24']);
  });

  it('the lease policy over etcd: two hosts get different subnets, a restart gets its own back', async () => {
    const prefix = uniquePrefix('store').slice(0, -1);
    const store = new EtcdLeaseStore(client, prefix);
    const config = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    const host = (ip: string) =>
      new LeaseManager({
        store,
        config,
        attrs: vxlanLeaseAttrs(ip, 1, '02:00:00:00:00:01'),
        ttlSeconds: 600,
        log: silent,
        onLost: () => undefined,
      });
    const a = await host('198.18.0.1').acquire();
    const b = await host('198.18.0.2').acquire();
    expect(formatSubnet4(a.subnet)).not.toBe(formatSubnet4(b.subnet));
    const again = await host('198.18.0.1').acquire();
    expect([formatSubnet4(again.subnet), again.how]).toEqual([formatSubnet4(a.subnet), 'reused']);
  });
});
