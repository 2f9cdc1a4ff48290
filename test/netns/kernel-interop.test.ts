/**
 * vxtun <-> the kernel's VXLAN device configured exactly as Flannel does (flannel.1, id 1, dstport 8472,
 * nolearning, <subnet>.0/32, permanent neighbour + fdb + onlink route): ping and a sha256-checked transfer in both
 * directions, then the kernel's own neighbour entry removed so it must ARP for our gateway through the tunnel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, setupFlannelVxlan, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, tcpTransfer, type VxtunProc } from './harness.js';

const MB = 1024 * 1024;

describe.runIf(isRoot)('vxtun <-> kernel VXLAN (Flannel layout)', () => {
  let tb: Testbed;
  let vx: VxtunProc | undefined;
  const mac = { a: randomVtepMac(), b: randomVtepMac() };

  beforeAll(async () => {
    tb = await createTestbed();
    await setupFlannelVxlan(tb, 'a', {
      subnet: '10.244.1.0/24',
      vtepMac: mac.a,
      peers: [{ publicIp: tb.hosts.b.underlayIp, subnet: '10.244.2.0/24', vtepMac: mac.b }],
    });
    vx = await startStatic(tb, 'b', {
      publicIp: tb.hosts.b.underlayIp,
      subnet: '10.244.2.0/24',
      network: '10.244.0.0/16',
      vtepMac: mac.b,
      peers: [{ publicIp: tb.hosts.a.underlayIp, subnet: '10.244.1.0/24', vtepMac: mac.a }],
    });
  });

  afterAll(async () => {
    await vx?.stop().catch(() => undefined);
    await tb?.destroy();
  });

  it('ping crosses in both directions', async () => {
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
    expect(await ping(tb, 'b', '10.244.1.0')).toBe(3);
  });

  it('200 MB kernel -> vxtun arrives with the same sha256', async () => {
    const r = await tcpTransfer(tb, 'a', 'b', '10.244.2.0', 200 * MB);
    expect(r.received).toEqual(r.sent);
  });

  it('200 MB vxtun -> kernel arrives with the same sha256', async () => {
    const r = await tcpTransfer(tb, 'b', 'a', '10.244.1.0', 200 * MB, 5204);
    expect(r.received).toEqual(r.sent);
  });

  it('a kernel peer that lost its neighbour entry learns our VTEP MAC by ARP through the tunnel', async () => {
    await tb.exec('a', ['ip', 'neigh', 'del', '10.244.2.0', 'dev', 'flannel.1']);
    // Without the neighbour entry the kernel broadcasts an ARP request for 10.244.2.0. Flannel installs no
    // default fdb entry, so add one (all-zero MAC -> vxtun's host) for the broadcast to leave at all;
    // the answer must then come from vxtun.
    await tb.exec('a', ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'flannel.1', 'dst', tb.hosts.b.underlayIp]);
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
    const neigh = await tb.exec('a', ['ip', '-j', 'neigh', 'show', '10.244.2.0', 'dev', 'flannel.1']);
    const entries = JSON.parse(neigh.stdout) as { lladdr?: string; state?: string[] }[];
    expect(entries[0]?.lladdr).toBe(mac.b);
  });

  it('vxtun counted the traffic and the ARP reply, and dropped nothing from the kernel peer', async () => {
    const s = await vx!.stop();
    vx = undefined;
    expect(s.rxBytes).toBeGreaterThan(200 * MB);
    expect(s.txBytes).toBeGreaterThan(200 * MB);
    expect(s.arpReplies).toBeGreaterThanOrEqual(1);
    // Once the all-zero fdb entry exists, the kernel also floods flannel.1's own IPv6 multicast (router
    // solicitations, MLD reports: destination 33:33:…) to vxtun, which drops it as not addressed to its VTEP MAC.
    const { noRoute = 0, notOurMac = 0, ...others } = s.drops;
    expect(others).toEqual({});
    expect(noRoute).toBeLessThan(10);
    expect(notOurMac).toBeLessThan(10);
  });
});
