/**
 * IPv6-only (`"EnableIPv4": false`): two `vxtun agent` hosts lease IPv6 subnets under Flannel's key with the zero
 * IPv4 part, advertise PublicIPv6 and BackendV6Data as flanneld's vxlan backend does, write only the IPv6 lines of
 * subnet.env, carry the overlay over the IPv6 underlay, and ping and a sha256-checked transfer cross.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { isRoot, ping, tcpTransfer } from './harness.js';
import { captureVxlan } from './tools/capture.js';

const MB = 1024 * 1024;
const CONFIG = '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd10:244::/48","Backend":{"Type":"vxlan"}}';

describe.runIf(isRoot)('vxtun agent, IPv6-only network', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    tb = await createTestbed({ ipv6Underlay: true });
    cluster = await startAgentCluster(tb, { workers: 1 });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await cluster?.close();
    await tb?.destroy();
  });

  it("leases with Flannel's IPv6-only key and value, subnet.env with the IPv6 lines only; ping6 and 10 MB cross over IPv6", async () => {
    await cluster.etcdctl(['put', '/coreos.com/network/config', CONFIG]);
    // The underlay address: a takes its interface's global IPv6 address, b is given one.
    agents.push(
      await cluster.startAgent('a', ['--iface', tb.hosts.a.dev]),
      await cluster.startAgent('b', ['--public-ipv6', tb.hosts.b.underlayIp]),
    );
    const [a, b] = agents;
    const leases = [...(await cluster.leases()).entries()].map(([k, v]) => [k.slice(k.lastIndexOf('/') + 1), JSON.parse(v)] as const);
    expect(leases).toHaveLength(2);
    const byHost = new Map(leases.map(([key, value]) => [value.PublicIPv6 as string, { key, value }]));
    for (const h of ['a', 'b'] as const) {
      const lease = byHost.get(tb.hosts[h].underlayIp)!;
      expect(lease, `lease of host ${h} (PublicIPv6 ${tb.hosts[h].underlayIp})`).toBeDefined();
      expect(lease.key).toMatch(/^0\.0\.0\.0-0&fd10:244:0:[0-9a-f]+::-64$/);
      expect(Object.keys(lease.value)).toEqual(['PublicIP', 'PublicIPv6', 'BackendType', 'BackendV6Data']);
      expect(lease.value.PublicIP).toBe('0.0.0.0');
      expect(lease.value.BackendType).toBe('vxlan');
      expect(lease.value.BackendV6Data.VNI).toBe(1);
      expect(lease.value.BackendV6Data.VtepMAC).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    }

    const gw = new Map<RunningAgent, string>();
    for (const agent of agents) {
      const text = readFileSync(agent.subnetFile, 'utf8');
      const m =
        /^FLANNEL_IPV6_NETWORK=fd10:244::\/48\nFLANNEL_IPV6_SUBNET=(fd10:244:0:[0-9a-f]+::)1\/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n$/.exec(
          text,
        );
      expect(m, text).not.toBeNull();
      gw.set(agent, m![1]);
      // The TUN carries the IPv6 subnet only.
      const addrs = JSON.parse(
        (await tb.exec(agent.host as 'a' | 'b', ['ip', '-j', '-4', 'addr', 'show', 'dev', `${tb.prefix}t`])).stdout,
      ) as unknown[];
      expect(addrs.flatMap((l) => (l as { addr_info?: unknown[] }).addr_info ?? [])).toEqual([]);
    }
    const leaseOf = (agent: RunningAgent) => byHost.get(tb.hosts[agent.host as 'a' | 'b'].underlayIp)!.key;
    expect(leaseOf(a)).toBe(`0.0.0.0-0&${gw.get(a)}-64`);
    expect(leaseOf(b)).toBe(`0.0.0.0-0&${gw.get(b)}-64`);

    const { result, datagrams } = await captureVxlan(tb, 'b', ['udp', 'port', '8472'], () => ping(tb, 'a', gw.get(b)!));
    expect(result).toBe(3);
    expect(datagrams.length).toBeGreaterThan(0);
    expect(datagrams.every((d) => d.outerFamily === 6)).toBe(true);
    expect(await ping(tb, 'b', gw.get(a)!)).toBe(3);
    const t = await tcpTransfer(tb, 'a', 'b', gw.get(b)!, 10 * MB, 5231);
    expect(t.received).toEqual(t.sent);
  }, 90_000);
});
