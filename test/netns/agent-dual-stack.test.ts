/** Dual stack: two `vxtun agent` hosts each lease an IPv4 and an IPv6 subnet, and traffic of both families crosses intact. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { isRoot, ping, tcpTransfer } from './harness.js';

const MB = 1024 * 1024;
const CONFIG = '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd10:244::/48","Backend":{"Type":"vxlan"}}';
const env = (file: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1];

describe.runIf(isRoot)('vxtun agent, dual stack', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { workers: 1 });
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await cluster?.close();
    await tb?.destroy();
  });

  it("each agent leases an IPv4 and an IPv6 subnet under Flannel's dual-stack key; ping and 20 MB cross over each family", async () => {
    await cluster.etcdctl(['put', '/coreos.com/network/config', CONFIG]);
    agents.push(await cluster.startAgent('a'), await cluster.startAgent('b'));
    const [a, b] = agents;
    const keys = [...(await cluster.leases()).keys()].map((k) => k.slice(k.lastIndexOf('/') + 1)).sort();
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k).toMatch(/^10\.244\.\d+\.0-24&fd10:244:0:[0-9a-f]+::-64$/);
    for (const v of (await cluster.leases()).values()) expect(JSON.parse(v).BackendV6Data.VtepMAC).toBe(JSON.parse(v).BackendData.VtepMAC);

    for (const agent of agents) {
      expect(env(agent.subnetFile, 'FLANNEL_IPV6_NETWORK')).toBe('fd10:244::/48');
      expect(env(agent.subnetFile, 'FLANNEL_IPV6_SUBNET')).toMatch(/^fd10:244:0:[0-9a-f]+::1\/64$/);
    }
    const v6gw = (agent: RunningAgent) => env(agent.subnetFile, 'FLANNEL_IPV6_SUBNET')!.replace(/1\/64$/, '');
    const v4gw = (agent: RunningAgent) => agent.subnet.replace(/\/24$/, '');
    expect(await ping(tb, 'a', v6gw(b))).toBe(3);
    expect(await ping(tb, 'b', v6gw(a))).toBe(3);
    expect(await ping(tb, 'a', v4gw(b))).toBe(3);
    const six = await tcpTransfer(tb, 'a', 'b', v6gw(b), 20 * MB, 5221);
    expect(six.received).toEqual(six.sent);
    const four = await tcpTransfer(tb, 'b', 'a', v4gw(a), 20 * MB, 5222);
    expect(four.received).toEqual(four.sent);
  }, 90_000);
});
