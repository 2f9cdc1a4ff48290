/**
 * Offloads off: veths with TSO/GSO/GRO/checksum offload off, TSO and checksum offload turned off on vxtun's TUN
 * with ethtool at run time, and the other host running vxtun with `"offloads": false` (no virtio header, one
 * packet per read, no UDP GSO/GRO). Slower, still correct.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, tcpTransfer, udpTransfer, type VxtunProc } from './harness.js';

const MB = 1024 * 1024;

describe.runIf(isRoot)('offloads off', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };

  beforeAll(async () => {
    tb = await createTestbed({ offloadProfile: 'off' });
    const config = (self: 'a' | 'b', other: 'a' | 'b', offloads: boolean) => ({
      publicIp: tb.hosts[self].underlayIp,
      subnet: subnet[self],
      network: '10.244.0.0/16',
      vtepMac: mac[self],
      offloads,
      peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnet[other], vtepMac: mac[other] }],
    });
    procs.a = await startStatic(tb, 'a', config('a', 'b', true));
    procs.b = await startStatic(tb, 'b', config('b', 'a', false));
    await tb.exec('a', ['ethtool', '-K', 'vxtun0', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('the veths and the TUN really have their offloads off', async () => {
    const veth = await tb.exec('a', ['ethtool', '-k', tb.hosts.a.dev]);
    expect(veth.stdout).toMatch(/tcp-segmentation-offload: off/);
    expect(veth.stdout).toMatch(/generic-receive-offload: off/);
    const tun = await tb.exec('a', ['ethtool', '-k', 'vxtun0']);
    expect(tun.stdout).toMatch(/tcp-segmentation-offload: off/);
  });

  it('ping and 50 MB over TCP in both directions arrive intact', async () => {
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
    const ab = await tcpTransfer(tb, 'a', 'b', '10.244.2.0', 50 * MB);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(tb, 'b', 'a', '10.244.1.0', 50 * MB, 5205);
    expect(ba.received).toEqual(ba.sent);
  });

  it('UDP arrives intact', async () => {
    const r = await udpTransfer(tb, 'a', 'b', '10.244.2.0', 1000, 1200);
    expect(r.received.distinct).toBe(1000);
    expect(r.received.sha256).toBe(r.sent.sha256);
  });

  it('no super-packets were seen without offloads: one TUN read per packet sent', async () => {
    const [a, b] = [await procs.a!.stop(), await procs.b!.stop()];
    procs.a = procs.b = undefined;
    expect(a.txPackets).toBeGreaterThan((50 * MB) / 1500);
    expect(b.tunReads).toBe(b.txPackets + (b.drops.noRoute ?? 0));
    expect(a.tunReads).toBe(a.txPackets + (a.drops.noRoute ?? 0));
  });
});
