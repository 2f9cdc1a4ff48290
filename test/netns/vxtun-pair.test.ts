/**
 * vxtun <-> vxtun across two namespaces: ping, a 200 MB TCP transfer whose sha256 matches on arrival, UDP,
 * both directions, IPv4 and IPv6 inner traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, tcpTransfer, udpTransfer, type VxtunProc } from './harness.js';

const MB = 1024 * 1024;

describe.runIf(isRoot)('vxtun <-> vxtun', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };
  const subnet6 = { a: 'fd10:244:1::/64', b: 'fd10:244:2::/64' };

  beforeAll(async () => {
    tb = await createTestbed();
    const config = (self: 'a' | 'b', other: 'a' | 'b') => ({
      publicIp: tb.hosts[self].underlayIp,
      subnet: subnet[self],
      ipv6Subnet: subnet6[self],
      network: '10.244.0.0/16',
      ipv6Network: 'fd10:244::/32',
      vtepMac: mac[self],
      peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnet[other], ipv6Subnet: subnet6[other], vtepMac: mac[other] }],
    });
    procs.a = await startStatic(tb, 'a', config('a', 'b'));
    procs.b = await startStatic(tb, 'b', config('b', 'a'));
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('ping crosses in both directions (IPv4 and IPv6 inner)', async () => {
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
    expect(await ping(tb, 'b', '10.244.1.0')).toBe(3);
    expect(await ping(tb, 'a', 'fd10:244:2::')).toBe(3);
    expect(await ping(tb, 'b', 'fd10:244:1::')).toBe(3);
  });

  it('200 MB over TCP arrives with the same sha256, a -> b', async () => {
    const r = await tcpTransfer(tb, 'a', 'b', '10.244.2.0', 200 * MB);
    expect(r.received).toEqual(r.sent);
  });

  it('200 MB over TCP arrives with the same sha256, b -> a', async () => {
    const r = await tcpTransfer(tb, 'b', 'a', '10.244.1.0', 200 * MB);
    expect(r.received).toEqual(r.sent);
  });

  it('50 MB over TCP with IPv6 inner traffic, both directions', async () => {
    const ab = await tcpTransfer(tb, 'a', 'b', 'fd10:244:2::', 50 * MB, 5202);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(tb, 'b', 'a', 'fd10:244:1::', 50 * MB, 5203);
    expect(ba.received).toEqual(ba.sent);
  });

  it('UDP datagrams arrive intact in both directions', async () => {
    const ab = await udpTransfer(tb, 'a', 'b', '10.244.2.0', 2000, 1200);
    expect(ab.received.distinct).toBe(2000);
    expect(ab.received.sha256).toBe(ab.sent.sha256);
    const ba = await udpTransfer(tb, 'b', 'a', 'fd10:244:1::', 2000, 1200, 5301);
    expect(ba.received.distinct).toBe(2000);
    expect(ba.received.sha256).toBe(ba.sent.sha256);
  });

  it('the traffic crossed vxtun: its counters account for it, with nothing dropped', async () => {
    const [a, b] = [await procs.a!.stop(), await procs.b!.stop()];
    procs.a = procs.b = undefined;
    // 200 MB + 50 MB of TCP payload each way, plus headers and ACKs
    expect(a.txBytes).toBeGreaterThan(250 * MB);
    expect(b.rxBytes).toBeGreaterThan(250 * MB);
    expect(b.txBytes).toBeGreaterThan(250 * MB);
    expect(a.rxBytes).toBeGreaterThan(250 * MB);
    // The only drops allowed: a few IPv6 router solicitations / MLD reports the kernel sends to multicast
    // groups through the TUN, which no peer owns.
    for (const s of [a, b]) {
      const { noRoute = 0, ...others } = s.drops;
      expect(others).toEqual({});
      expect(noRoute).toBeLessThan(10);
    }
  });
});
