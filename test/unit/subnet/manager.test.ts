/** The lease policy against the in-memory store, with fake timers standing in for 24 h (or 60 s) of TTL. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseNetworkConfig } from '../../../control/subnet/config.js';
import { formatSubnet4, parseSubnet4, type Subnet4 } from '../../../control/subnet/ip4.js';
import { encodeLeaseAttrs, vxlanLeaseAttrs } from '../../../control/subnet/lease.js';
import { LeaseManager, type LeaseManagerOptions } from '../../../control/subnet/manager.js';
import { MemoryLeaseStore } from '../../../control/subnet/memory-store.js';
import type { VxtunError } from '../../../dataplane/errors.js';

const sn = (s: string): Subnet4 => parseSubnet4(s)!;
const config = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
const silent = { info() {}, warn() {}, error() {} };
const other = (ip: string) => encodeLeaseAttrs(vxlanLeaseAttrs(ip, 1, '02:00:00:00:00:02'));
/** The lease value this node (198.18.0.1) writes, as Flannel stores it. */
const OWN = '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}';

function manager(store: MemoryLeaseStore, extra: Partial<LeaseManagerOptions> = {}) {
  const lost: VxtunError[] = [];
  const m = new LeaseManager({
    store,
    config,
    attrs: vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:01'),
    log: silent,
    onLost: (e) => lost.push(e),
    ...extra,
  });
  return { m, lost };
}

describe('lease manager', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("allocates a free subnet from SubnetMin up, never one another node holds, with Flannel's value", async () => {
    const store = new MemoryLeaseStore();
    store.putOther(sn('10.244.1.0/24'), other('198.18.0.2'));
    const { m } = manager(store, { random: () => 0 });
    const got = await m.acquire();
    expect([formatSubnet4(got.subnet), got.how]).toEqual(['10.244.2.0/24', 'allocated']);
    expect(store.get(got.subnet)).toBe(OWN);
  });

  it('picks at random among the first 100 free subnets', async () => {
    const seen = new Set<string>();
    for (const r of [0, 0.5, 0.999]) {
      const { m } = manager(new MemoryLeaseStore(), { random: () => r });
      seen.add(formatSubnet4((await m.acquire()).subnet));
    }
    expect([...seen]).toEqual(['10.244.1.0/24', '10.244.51.0/24', '10.244.100.0/24']);
  });

  it('reuses the lease that carries our PublicIP, ahead of the subnet in subnet.env', async () => {
    const store = new MemoryLeaseStore();
    const { m: first } = manager(store);
    const a = await first.acquire();
    const { m: again } = manager(store);
    const b = await again.acquire(sn('10.244.200.0/24'));
    expect([formatSubnet4(b.subnet), b.how]).toEqual([formatSubnet4(a.subnet), 'reused']);
    expect(store.get(sn('10.244.200.0/24'))).toBeUndefined();
  });

  it('takes the subnet from subnet.env when it is free, and a fresh one when another node holds it', async () => {
    const store = new MemoryLeaseStore();
    const got = await manager(store).m.acquire(sn('10.244.77.0/24'));
    expect([formatSubnet4(got.subnet), got.how]).toEqual(['10.244.77.0/24', 'previous']);

    const store2 = new MemoryLeaseStore();
    store2.putOther(sn('10.244.77.0/24'), other('198.18.0.9'));
    const got2 = await manager(store2, { random: () => 0 }).m.acquire(sn('10.244.77.0/24'));
    expect([formatSubnet4(got2.subnet), got2.how]).toEqual(['10.244.1.0/24', 'allocated']);
    expect(store2.get(sn('10.244.77.0/24'))).toBe(other('198.18.0.9'));
  });

  it('replaces a lease of ours that no longer fits the network config', async () => {
    const store = new MemoryLeaseStore();
    store.putOther(sn('10.9.0.0/24'), encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:01')));
    const got = await manager(store, { random: () => 0 }).m.acquire();
    expect(formatSubnet4(got.subnet)).toBe('10.244.1.0/24');
    expect(store.get(sn('10.9.0.0/24'))).toBeUndefined();
  });

  it('retries when another node wins the create race, instead of giving up like flanneld', async () => {
    const store = new MemoryLeaseStore();
    const create = store.createIfAbsent.bind(store);
    let raced = 0;
    store.createIfAbsent = async (s, v, ttl) => {
      if (raced++ === 0) store.putOther(s, other('198.18.0.5'));
      return create(s, v, ttl);
    };
    const got = await manager(store, { random: () => 0 }).m.acquire();
    expect(formatSubnet4(got.subnet)).toBe('10.244.2.0/24');
    expect(store.get(sn('10.244.1.0/24'))).toBe(other('198.18.0.5'));
  });

  it('says so when the range is exhausted', async () => {
    const small = parseNetworkConfig('{"Network":"10.5.0.0/28","Backend":{"Type":"vxlan"}}');
    const store = new MemoryLeaseStore();
    for (const s of ['10.5.0.4/30', '10.5.0.8/30', '10.5.0.12/30']) store.putOther(sn(s), other('198.18.0.7'));
    await expect(manager(store, { config: small }).m.acquire()).rejects.toMatchObject({
      code: 'VXTUN_ERR_CONFIG',
      message: expect.stringMatching(/no free \/30 subnet/),
    });
  });

  it('keeps a 24 h lease alive for three days by renewing an hour before expiry', async () => {
    const store = new MemoryLeaseStore();
    const { m } = manager(store);
    const { subnet } = await m.acquire();
    m.startRenewal();
    const puts: number[] = [];
    store.watch({ snapshot() {}, changes: () => puts.push(Date.now()), unreachable() {} });
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(72 * 3600_000);
    expect(store.get(subnet)).toBe(OWN);
    expect(puts.map((t) => (t - start) / 3600_000)).toEqual([23, 46, 69]);
    m.stop();
  });

  it('a 60 s lease renews 15 s early; a lease left unrenewed (after stop) expires', async () => {
    const store = new MemoryLeaseStore();
    const { m } = manager(store, { ttlSeconds: 60 });
    const { subnet } = await m.acquire();
    m.startRenewal();
    await vi.advanceTimersByTimeAsync(46_000);
    expect(m.lease!.expiresAt - Date.now()).toBe(59_000);
    m.stop();
    await vi.advanceTimersByTimeAsync(58_000);
    expect(store.get(subnet)).toBe(OWN);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(store.get(subnet)).toBeUndefined();
  });

  it('retries a failed renewal before the lease runs out', async () => {
    const store = new MemoryLeaseStore();
    const { m } = manager(store, { ttlSeconds: 60 });
    const { subnet } = await m.acquire();
    m.startRenewal();
    store.failing = new Error('registry unreachable');
    await vi.advanceTimersByTimeAsync(50_000);
    store.failing = null;
    await vi.advanceTimersByTimeAsync(5_000);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(store.get(subnet)).toBe(OWN);
    m.stop();
  });

  it('takes back its deleted lease, and gives up when another node writes its subnet', async () => {
    const store = new MemoryLeaseStore();
    const { m, lost } = manager(store);
    const { subnet } = await m.acquire();
    m.startRenewal();
    store.watch({ snapshot() {}, changes: (cs) => cs.forEach((c) => m.observe(c)), unreachable() {} });
    await store.delete(subnet);
    await vi.advanceTimersByTimeAsync(10);
    expect(store.get(subnet)).toContain('"PublicIP":"198.18.0.1"');
    expect(lost).toEqual([]);
    store.putOther(subnet, other('198.18.0.66'));
    expect(lost.map((e) => e.code)).toEqual(['VXTUN_ERR_LEASE_CONFLICT']);
    expect(lost[0].message).toMatch(
      /lease conflict on 10\.244\.\d+\.0\/24: host 198\.18\.0\.66 \(VTEP MAC 02:00:00:00:00:02\) wrote its lease over ours/,
    );
    m.stop();
  });

  it('notices from a re-list that its key vanished while the watch was behind, and takes it back', async () => {
    const store = new MemoryLeaseStore();
    const { m, lost } = manager(store);
    const { subnet } = await m.acquire();
    m.startRenewal();
    await store.delete(subnet);
    m.observeSnapshot((await store.list()).leases);
    await vi.advanceTimersByTimeAsync(10);
    expect(store.get(subnet)).toContain('"PublicIP":"198.18.0.1"');
    store.putOther(subnet, other('198.18.0.66'));
    m.observeSnapshot((await store.list()).leases);
    expect(lost.length).toBe(1);
    m.stop();
  });

  it('a second host with our --public-ip: the first writes its lease back at once, the second stops with a conflict', async () => {
    const store = new MemoryLeaseStore();
    const { m: victim, lost: victimLost } = manager(store);
    const { subnet } = await victim.acquire();
    victim.startRenewal();
    store.watch({ snapshot() {}, changes: (cs) => cs.forEach((c) => victim.observe(c)), unreachable() {} });

    const intruderMac = '02:00:00:00:00:99';
    const { m: intruder, lost: intruderLost } = manager(store, { attrs: vxlanLeaseAttrs('198.18.0.1', 1, intruderMac) });
    const got = await intruder.acquire();
    expect([formatSubnet4(got.subnet), got.how]).toEqual([formatSubnet4(subnet), 'reused']);
    store.watch({
      snapshot: (ls) => intruder.observeSnapshot(ls),
      changes: (cs) => cs.forEach((c) => intruder.observe(c)),
      unreachable() {},
    });
    await vi.advanceTimersByTimeAsync(10);

    // The registry holds the first host's VTEP MAC again, so peers keep sending to it, and the intruder gave up.
    expect(store.get(subnet)).toBe(OWN);
    expect(victimLost).toEqual([]);
    expect(intruderLost.map((e) => e.code)).toEqual(['VXTUN_ERR_LEASE_CONFLICT']);
    expect(intruderLost[0].message).toMatch(
      /the host with VTEP MAC 02:00:00:00:00:01 that held this lease for public IP 198\.18\.0\.1 is still running/,
    );
    // Nothing more is written once the intruder stopped.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.get(subnet)).toBe(OWN);
    victim.stop();
  });

  it('a host that keeps overwriting our lease with our public IP ends the run after a few rewrites', async () => {
    const store = new MemoryLeaseStore();
    const { m, lost } = manager(store);
    const { subnet } = await m.acquire();
    m.startRenewal();
    store.watch({ snapshot() {}, changes: (cs) => cs.forEach((c) => m.observe(c)), unreachable() {} });
    for (let i = 0; i < 4; i++) {
      store.putOther(subnet, encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:77')));
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(lost.map((e) => e.code)).toEqual(['VXTUN_ERR_LEASE_CONFLICT']);
    expect(lost[0].message).toMatch(/VTEP MAC 02:00:00:00:00:77 keeps overwriting it/);
    m.stop();
  });

  it('renews at once when the renewal came due during a registry outage', async () => {
    const store = new MemoryLeaseStore();
    const { m } = manager(store, { ttlSeconds: 60 });
    const { subnet } = await m.acquire();
    m.startRenewal();
    store.failing = new Error('registry unreachable');
    await vi.advanceTimersByTimeAsync(46_000);
    store.failing = null;
    const before = m.lease!.expiresAt;
    m.renewIfDue();
    await vi.advanceTimersByTimeAsync(1);
    expect(m.lease!.expiresAt).toBeGreaterThan(before);
    expect(store.get(subnet)).toBe(OWN);
    m.stop();
  });

  it('two hosts started at once with the same --public-ip got two subnets: the newer lease gives way and is deleted, the older host runs on', async () => {
    const store = new MemoryLeaseStore();
    const { m: older, lost: olderLost } = manager(store, { random: () => 0 });
    const first = await older.acquire();
    older.startRenewal();
    // The newer host listed before the older one's lease was written (the race), so it did not reuse it.
    const stale = {
      list: async () => ({ leases: [], revision: 0n }),
      createIfAbsent: store.createIfAbsent.bind(store),
      update: store.update.bind(store),
      delete: store.delete.bind(store),
      watch: store.watch.bind(store),
    };
    const { m: newer, lost: newerLost } = manager(store, {
      store: stale,
      attrs: vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:99'),
      random: () => 0.5,
    });
    const second = await newer.acquire();
    expect(formatSubnet4(second.subnet)).not.toBe(formatSubnet4(first.subnet));
    store.watch({ snapshot: (ls) => older.observeSnapshot(ls), changes: (cs) => cs.forEach((c) => older.observe(c)), unreachable() {} });
    newer.observeSnapshot((await store.list()).leases);
    await vi.advanceTimersByTimeAsync(10);

    expect(newerLost.map((e) => e.code)).toEqual(['VXTUN_ERR_LEASE_CONFLICT']);
    expect(newerLost[0].message).toMatch(
      /host with VTEP MAC 02:00:00:00:00:01 has held a lease for our public IP 198\.18\.0\.1 \(10\.244\.1\.0\/24\) since before ours/,
    );
    expect(olderLost).toEqual([]);
    expect(store.keys()).toEqual(['10.244.1.0-24']);
    expect([newer.released, older.released]).toEqual([true, false]);
    expect(store.get(first.subnet)).toBe(OWN);
    older.stop();
  });
});
