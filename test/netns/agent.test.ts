/**
 * `vxtun agent` on two hosts against `vxtun registry` (run inside host a on its underlay address): the leases
 * land in the registry under Flannel's keys with flanneld's JSON, subnet.env reads as Flannel's, traffic crosses,
 * leases are renewed, a kernel-VXLAN Flannel host whose lease is written by hand is reached through it, and a
 * stopped agent keeps its lease so its restart gets the same subnet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, setupFlannelVxlan, randomVtepMac, type Testbed } from '../../bench/testbed/index.js';
import { readSubnetFile, startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { isRoot, ping, tcpTransfer, waitFor } from './harness.js';
import { setTimeout as sleep } from 'node:timers/promises';

const MB = 1024 * 1024;
const CONFIG = '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan","VNI":1,"Port":8472}}';
const TTL_SECONDS = 10;
const key = (subnet: string) => `/coreos.com/network/subnets/${subnet.replace('/', '-')}`;
const gateway = (subnet: string) => subnet.replace(/\/\d+$/, '');

describe.runIf(isRoot)('vxtun agent with the registry', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  const agents: Partial<Record<'a' | 'b', RunningAgent>> = {};
  let startedAt = 0;

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { leaseTtl: `${TTL_SECONDS}s` });
  });

  afterAll(async () => {
    await Promise.allSettled([agents.a?.stop(), agents.b?.stop()]);
    await cluster?.close();
    await tb?.destroy();
  });

  it('without a network config the agent waits, saying what it waits for, and gives up after --wait-timeout', async () => {
    const { process: p } = cluster.spawnAgent('a', ['--wait-timeout', '3s']);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain(
      '"msg":"waiting for the network config: no network config at /coreos.com/network/config; create it with etcdctl put /coreos.com/network/config',
    );
    expect(p.output()).toContain(
      'vxtun: VXTUN_ERR_CONFIG: gave up waiting for the network config after --wait-timeout 3s: no network config at /coreos.com/network/config',
    );
  });

  it("each host takes a lease stored under Flannel's key with flanneld's exact JSON", async () => {
    await cluster.etcdctl(['put', '/coreos.com/network/config', CONFIG]);
    agents.a = await cluster.startAgent('a');
    agents.b = await cluster.startAgent('b');
    startedAt = Date.now();
    const leases = await cluster.leases();
    expect([...leases.keys()].sort()).toEqual([key(agents.a.subnet), key(agents.b.subnet)].sort());
    expect(agents.a.subnet).not.toBe(agents.b.subnet);
    for (const host of ['a', 'b'] as const) {
      const subnet = agents[host]!.subnet;
      expect(subnet).toMatch(/^10\.244\.(\d+)\.0\/24$/);
      expect(Number(subnet.split('.')[2])).toBeGreaterThanOrEqual(1);
      expect(leases.get(key(subnet))).toMatch(
        new RegExp(
          `^\\{"PublicIP":"${tb.hosts[host].underlayIPv4.replace(/\./g, '\\.')}","PublicIPv6":null,"BackendType":"vxlan","BackendData":\\{"VNI":1,"VtepMAC":"([0-9a-f]{2}:){5}[0-9a-f]{2}"\\}\\}$`,
        ),
      );
    }
  });

  it("subnet.env holds what Flannel's CNI plugin reads", () => {
    for (const agent of [agents.a!, agents.b!]) {
      const first = agent.subnet.replace(/\.0\/24$/, '.1/24');
      expect(readSubnetFile(agent.subnetFile)).toBe(
        `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${first}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`,
      );
    }
  });

  it('ping crosses both ways and 50 MB arrive with the same sha256', async () => {
    expect(await ping(tb, 'a', gateway(agents.b!.subnet))).toBe(3);
    expect(await ping(tb, 'b', gateway(agents.a!.subnet))).toBe(3);
    const r = await tcpTransfer(tb, 'a', 'b', gateway(agents.b!.subnet), 50 * MB);
    expect(r.received).toEqual(r.sent);
  });

  it('leases outlive their TTL because the agents renew them', async () => {
    await sleep(Math.max(0, startedAt + (TTL_SECONDS + 3) * 1000 - Date.now()));
    const leases = await cluster.leases();
    expect(leases.has(key(agents.a!.subnet)) && leases.has(key(agents.b!.subnet))).toBe(true);
    expect(agents.a!.output()).toContain('"msg":"lease renewed"');
  });

  it('a stopped agent keeps its lease; restarted, it reuses the same subnet and traffic crosses again', async () => {
    const before = (await cluster.leases()).get(key(agents.b!.subnet));
    const oldSubnet = agents.b!.subnet;
    await agents.b!.stop();
    agents.b = undefined;
    expect((await cluster.leases()).get(key(oldSubnet))).toBe(before);
    agents.b = await cluster.startAgent('b');
    expect(agents.b.subnet).toBe(oldSubnet);
    expect(agents.b.output()).toContain('"how":"reused"');
    expect((await cluster.leases()).get(key(oldSubnet))).toBe(before);
    expect(await ping(tb, 'a', gateway(oldSubnet))).toBe(3);
  });

  it('a lease of another backend is ignored with a log line', async () => {
    await cluster.etcdctl([
      'put',
      key('10.244.251.0/24'),
      `{"PublicIP":"${tb.hosts.b.underlayIPv4}","PublicIPv6":null,"BackendType":"host-gw"}`,
    ]);
    await waitFor(() => agents.a!.output().includes('"subnet":"10.244.251.0/24"'), 5_000, 'agent a to see the host-gw lease');
    expect(agents.a!.output()).toMatch(
      /"subnet":"10\.244\.251\.0\/24".*"why":"backend \\"host-gw\\" is not vxlan".*"msg":"ignoring lease"/,
    );
    await cluster.etcdctl(['del', key('10.244.251.0/24')]);
  });

  it('a kernel-VXLAN Flannel host is reached once its lease is in the registry, and dropped when it goes', async () => {
    const vxtunSubnet = agents.b!.subnet;
    await agents.b!.stop();
    agents.b = undefined;
    // Host b now runs the kernel's VXLAN device as flanneld sets it up, and its lease is written as flanneld writes it.
    const leaseA = JSON.parse((await cluster.leases()).get(key(agents.a!.subnet))!);
    const kernel = await setupFlannelVxlan(tb, 'b', {
      subnet: '10.244.250.0/24',
      vtepMac: randomVtepMac(),
      peers: [{ publicIp: tb.hosts.a.underlayIPv4, subnet: agents.a!.subnet, vtepMac: leaseA.BackendData.VtepMAC }],
    });
    try {
      expect(await ping(tb, 'a', '10.244.250.0', 1)).toBe(0);
      await cluster.etcdctl([
        'put',
        key('10.244.250.0/24'),
        `{"PublicIP":"${tb.hosts.b.underlayIPv4}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${kernel.vtepMac}"}}`,
      ]);
      await waitFor(() => agents.a!.output().includes('"subnet":"10.244.250.0/24"'), 5_000, 'agent a to add the kernel host');
      expect(await ping(tb, 'a', '10.244.250.0')).toBe(3);
      const r = await tcpTransfer(tb, 'a', 'b', '10.244.250.0', 20 * MB, 5202);
      expect(r.received).toEqual(r.sent);

      await cluster.etcdctl(['del', key('10.244.250.0/24')]);
      await waitFor(
        () => /"subnet":"10\.244\.250\.0\/24"[^\n]*"msg":"peer removed"/.test(agents.a!.output()),
        5_000,
        'agent a to drop the kernel host',
      );
      expect(await ping(tb, 'a', '10.244.250.0', 1)).toBe(0);
    } finally {
      await kernel.remove();
    }
    // b's vxtun lease expired meanwhile (TTL 10 s, nobody renewing); subnet.env still names its subnet.
    await waitFor(
      () => new RegExp(`"subnet":"${vxtunSubnet.replace(/\./g, '\\.')}"[^\\n]*"msg":"peer removed"`).test(agents.a!.output()),
      (TTL_SECONDS + 5) * 1000,
      "b's lease to expire",
    );
    agents.b = await cluster.startAgent('b');
    expect(agents.b.subnet).toBe(vxtunSubnet);
    expect(agents.b.output()).toContain('"how":"previous"');
    expect(await ping(tb, 'b', gateway(agents.a!.subnet))).toBe(3);
  });
});

describe.runIf(isRoot)("vxtun agent with Debian's etcd 3.4.23 as the registry", () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { registry: 'etcd', prefix: '/vxtun-test/network' });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await cluster?.close();
    await tb?.destroy();
  });

  it('both hosts lease subnets under the chosen prefix and 20 MB cross intact', async () => {
    await cluster.etcdctl(['put', '/vxtun-test/network/config', '{"Network":"10.99.0.0/20","Backend":{"Type":"vxlan","VNI":42}}']);
    agents.push(await cluster.startAgent('a'), await cluster.startAgent('b'));
    const [a, b] = agents;
    // A /20 gets /24 subnets, the first one skipped: 10.99.1.0 .. 10.99.15.0.
    for (const s of [a.subnet, b.subnet]) expect(s).toMatch(/^10\.99\.([1-9]|1[0-5])\.0\/24$/);
    const leases = await cluster.leases();
    expect([...leases.keys()].sort()).toEqual([a.subnet, b.subnet].map((s) => `/vxtun-test/network/subnets/${s.replace('/', '-')}`).sort());
    for (const v of leases.values()) expect(JSON.parse(v).BackendData.VNI).toBe(42);
    expect(await ping(tb, 'b', gateway(a.subnet))).toBe(3);
    const r = await tcpTransfer(tb, 'b', 'a', gateway(a.subnet), 20 * MB);
    expect(r.received).toEqual(r.sent);
  });
});
