/**
 * A mixed cluster: host a runs `vxtun agent`, host b is configured exactly as flanneld's vxlan backend configures
 * itself (its lease in Flannel's JSON, `flannel.1` with MTU = Backend.MTU − 50, neigh/fdb/onlink routes), first
 * with `Backend.MTU` set, then with `DirectRouting: true`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, setupFlannelVxlan, randomVtepMac, type FlannelVxlan, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { isRoot, ping, tcpTransfer, waitFor } from './harness.js';

const MB = 1024 * 1024;
const KERNEL_SUBNET = '10.244.250.0/24';
const key = (subnet: string) => `/coreos.com/network/subnets/${subnet.replace('/', '-')}`;
const gateway = (subnet: string) => subnet.replace(/\/\d+$/, '');
const flannelMtu = (file: string) => Number(/^FLANNEL_MTU=(\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1]);

describe.runIf(isRoot)('vxtun agent beside a kernel-VXLAN Flannel host', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  let agent: RunningAgent | undefined;
  let kernel: FlannelVxlan | undefined;

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { workers: 1 });
  });

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await kernel?.remove();
    await cluster?.close();
    await tb?.destroy();
  });

  /** Host b as flanneld sets itself up for the lease of agent a; its own lease written as flanneld writes it. */
  const kernelHost = async (backend: { linkMtu: number; directRouting: boolean }) => {
    const leaseA = JSON.parse((await cluster.leases()).get(key(agent!.subnet))!);
    kernel = await setupFlannelVxlan(tb, 'b', {
      subnet: KERNEL_SUBNET,
      vtepMac: randomVtepMac(),
      ...backend,
      peers: [{ publicIp: tb.hosts.a.underlayIPv4, subnet: agent!.subnet, vtepMac: leaseA.BackendData.VtepMAC }],
    });
    await cluster.etcdctl([
      'put',
      key(KERNEL_SUBNET),
      `{"PublicIP":"${tb.hosts.b.underlayIPv4}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${kernel.vtepMac}"}}`,
    ]);
    await waitFor(() => agent!.output().includes(`"subnet":"${KERNEL_SUBNET}"`), 10_000, 'agent a to add the kernel host');
  };

  /** Full-sized packets with DF cross both ways, one byte more does not; TCP at the full MSS both ways. */
  const fullMtuTraffic = async (mtu: number) => {
    const payload = mtu - 28;
    expect(
      await tb
        .exec('a', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', String(payload), gateway(KERNEL_SUBNET)], {
          timeoutMs: 10_000,
          allowFail: true,
        })
        .then((r) => r.code),
    ).toBe(0);
    expect(
      await tb
        .exec(
          'b',
          [
            'ping',
            '-c',
            '2',
            '-i',
            '0.2',
            '-W',
            '2',
            '-M',
            'do',
            '-s',
            String(payload),
            '-I',
            gateway(KERNEL_SUBNET),
            gateway(agent!.subnet),
          ],
          { timeoutMs: 10_000, allowFail: true },
        )
        .then((r) => r.code),
    ).toBe(0);
    const ab = await tcpTransfer(tb, 'a', 'b', gateway(KERNEL_SUBNET), 20 * MB, 5211);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(tb, 'b', 'a', gateway(agent!.subnet), 20 * MB, 5212);
    expect(ba.received).toEqual(ba.sent);
  };

  it('Backend.MTU is the link MTU on both kinds of host: FLANNEL_MTU and flannel.1 both MTU − 50, full-size traffic both ways', async () => {
    await cluster.etcdctl(['put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","MTU":1400}}']);
    agent = await cluster.startAgent('a');
    expect(flannelMtu(agent.subnetFile)).toBe(1350);
    await kernelHost({ linkMtu: 1400, directRouting: false });
    expect(kernel!.mtu).toBe(1350);
    expect((await tb.exec('a', ['cat', `/sys/class/net/${tb.prefix}t/mtu`])).stdout.trim()).toBe('1350');
    await fullMtuTraffic(1350);
    // One byte over the overlay MTU with DF does not leave host a.
    const over = await tb.exec('a', ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1323', gateway(KERNEL_SUBNET)], {
      timeoutMs: 10_000,
      allowFail: true,
    });
    expect(over.code).not.toBe(0);
  }, 120_000);

  it('DirectRouting: a peer on the same link is routed via its public IP without encapsulation, both ways; the route goes when the agent stops', async () => {
    await agent!.stop();
    agent = undefined;
    await kernel!.remove();
    kernel = undefined;
    await cluster.etcdctl(['del', key(KERNEL_SUBNET)]);
    await cluster.etcdctl([
      'put',
      '/coreos.com/network/config',
      '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","MTU":1400,"DirectRouting":true}}',
    ]);
    agent = await cluster.startAgent('a');
    await kernelHost({ linkMtu: 1400, directRouting: true });
    await waitFor(
      () => agent!.output().includes('"msg":"direct route added (DirectRouting: no encapsulation)"'),
      10_000,
      'the direct route',
    );
    const route = (await tb.exec('a', ['ip', 'route', 'get', gateway(KERNEL_SUBNET)])).stdout;
    expect(route).toContain(`via ${tb.hosts.b.underlayIPv4} dev ${tb.hosts.a.dev}`);
    expect(await ping(tb, 'a', gateway(KERNEL_SUBNET))).toBe(3);
    const ab = await tcpTransfer(tb, 'a', 'b', gateway(KERNEL_SUBNET), 20 * MB, 5213);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(tb, 'b', 'a', gateway(agent!.subnet), 20 * MB, 5214);
    expect(ba.received).toEqual(ba.sent);

    await agent!.stop();
    agent = undefined;
    expect((await tb.exec('a', ['ip', 'route', 'show', KERNEL_SUBNET])).stdout.trim()).toBe('');
  }, 120_000);
});
