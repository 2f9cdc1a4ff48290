/**
 * IPv6 Neighbor Discovery through the tunnel: a kernel VXLAN peer (Flannel's layout, IPv6 inner addresses as on
 * flannel-v6.1) without a permanent neighbour entry for our IPv6 gateway solicits it (to the solicited-node
 * multicast MAC, flooded through an all-zero fdb entry); vxtun must advertise its VTEP MAC, as it answers ARP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, setupFlannelVxlan, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, type VxtunProc } from './harness.js';

describe.runIf(isRoot)('NDP: a kernel peer learns our IPv6 gateway by Neighbor Solicitation', () => {
  let tb: Testbed;
  let vx: VxtunProc | undefined;
  const mac = { a: randomVtepMac(), b: randomVtepMac() };

  beforeAll(async () => {
    tb = await createTestbed();
    const kernel = await setupFlannelVxlan(tb, 'a', {
      subnet: '10.244.1.0/24',
      vtepMac: mac.a,
      peers: [{ publicIp: tb.hosts.b.underlayIp, subnet: '10.244.2.0/24', vtepMac: mac.b }],
    });
    const dev = kernel.device;
    await tb.exec('a', ['sysctl', '-qw', `net.ipv6.conf.${dev.replace('.', '/')}.disable_ipv6=0`]);
    await tb.exec('a', ['ip', '-6', 'addr', 'add', 'fd10:244:1::/128', 'dev', dev, 'nodad']);
    // The route Flannel adds, but no neighbour entry for the gateway: the kernel has to ask for it.
    await tb.exec('a', ['ip', '-6', 'route', 'add', 'fd10:244:2::/64', 'via', 'fd10:244:2::', 'dev', dev, 'onlink']);
    await tb.exec('a', ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', tb.hosts.b.underlayIp]);
    vx = await startStatic(tb, 'b', {
      publicIp: tb.hosts.b.underlayIp,
      subnet: '10.244.2.0/24',
      network: '10.244.0.0/16',
      vtepMac: mac.b,
      ipv6Subnet: 'fd10:244:2::/64',
      ipv6Network: 'fd10:244::/32',
      peers: [{ publicIp: tb.hosts.a.underlayIp, subnet: '10.244.1.0/24', ipv6Subnet: 'fd10:244:1::/64', vtepMac: mac.a }],
    });
  });

  afterAll(async () => {
    await vx?.stop().catch(() => undefined);
    await tb?.destroy();
  });

  it('ping -6 to our gateway works and the kernel holds our VTEP MAC for it', async () => {
    expect(await ping(tb, 'a', 'fd10:244:2::')).toBe(3);
    const neigh = await tb.exec('a', ['ip', '-j', '-6', 'neigh', 'show', 'fd10:244:2::', 'dev', 'flannel.1']);
    const entries = JSON.parse(neigh.stdout) as { lladdr?: string }[];
    expect(entries[0]?.lladdr).toBe(mac.b);
  });

  it('vxtun counted its advertisements', async () => {
    const s = await vx!.stop();
    vx = undefined;
    expect(s.ndpReplies).toBeGreaterThanOrEqual(1);
  });
});
