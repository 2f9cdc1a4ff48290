/**
 * vxtun <-> vxtun over an IPv6 underlay: the TUN MTU leaves room for the 70-byte IPv6 encapsulation, ping and a
 * sha256-checked TCP transfer cross in both directions, and the outer UDP/IPv6 datagrams carry a checksum
 * (RFC 8200 forbids a zero one; receivers drop such datagrams).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, type HostName, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, tcpTransfer, type VxtunProc } from './harness.js';
import { captureVxlan } from './tools/capture.js';

const MB = 1024 * 1024;

describe.runIf(isRoot)('vxtun <-> vxtun over an IPv6 underlay', () => {
  let tb: Testbed;
  const procs: Partial<Record<HostName, VxtunProc>> = {};
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };

  beforeAll(async () => {
    tb = await createTestbed({ ipv6Underlay: true });
    const config = (self: HostName, other: HostName) => ({
      publicIp: tb.hosts[self].underlayIp,
      subnet: subnet[self],
      network: '10.244.0.0/16',
      vtepMac: mac[self],
      peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnet[other], vtepMac: mac[other] }],
    });
    procs.a = await startStatic(tb, 'a', config('a', 'b'));
    procs.b = await startStatic(tb, 'b', config('b', 'a'));
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('the underlay really is IPv6, and the TUN MTU is 1500 - 70', async () => {
    expect(tb.hosts.a.underlayIp).toContain(':');
    for (const h of ['a', 'b'] as const) {
      const link = JSON.parse((await tb.exec(h, ['ip', '-j', 'link', 'show', 'vxtun0'])).stdout) as { mtu: number }[];
      expect(link[0].mtu).toBe(1430);
    }
  });

  it('ping crosses in both directions, inside UDP/IPv6 datagrams with a non-zero checksum', async () => {
    const { result, datagrams } = await captureVxlan(tb, 'b', ['udp', 'port', '8472'], async () => [
      await ping(tb, 'a', '10.244.2.0'),
      await ping(tb, 'b', '10.244.1.0'),
    ]);
    expect(result).toEqual([3, 3]);
    // Echo requests or replies that met in one read go out as one UDP_SEGMENT frame: count the datagrams in it.
    const count = (m: string) => datagrams.filter((d) => d.innerSrcMac === m).reduce((n, d) => n + d.segments, 0);
    expect(count(mac.a)).toBeGreaterThanOrEqual(6); // 3 requests + 3 replies
    expect(count(mac.b)).toBeGreaterThanOrEqual(6);
    for (const d of datagrams) {
      expect(d.outerFamily).toBe(6);
      expect(d.dstPort).toBe(8472);
      expect([...d.vxlan]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
      expect(d.udpChecksum).not.toBe(0);
    }
  });

  it('100 MB over TCP arrives with the same sha256, a -> b and b -> a', async () => {
    const ab = await tcpTransfer(tb, 'a', 'b', '10.244.2.0', 100 * MB, 5201, 30_000);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(tb, 'b', 'a', '10.244.1.0', 100 * MB, 5202, 30_000);
    expect(ba.received).toEqual(ba.sent);
  });

  it('vxtun carried the traffic with nothing dropped', async () => {
    const [a, b] = [await procs.a!.stop(), await procs.b!.stop()];
    procs.a = procs.b = undefined;
    for (const s of [a, b]) {
      expect(s.txBytes).toBeGreaterThan(100 * MB);
      expect(s.rxBytes).toBeGreaterThan(100 * MB);
      // IPv6 router solicitations / MLD reports the kernel sends through the TUN have no peer.
      const { noRoute = 0, ...others } = s.drops;
      expect(others).toEqual({});
      expect(noRoute).toBeLessThan(10);
    }
  });
});
