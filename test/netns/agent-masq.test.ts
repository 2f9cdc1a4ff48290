/**
 * `vxtun agent --ip-masq`: traffic from the host's overlay subnet to a destination outside the overlay leaves with
 * the node's address (the destination answers although it has no route back into the overlay), FLANNEL_IPMASQ
 * says so, and the rules are gone once the agent stops.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { isRoot } from './harness.js';

describe.runIf(isRoot)('vxtun agent --ip-masq', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { workers: 1 });
  });

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cluster?.close();
    await tb?.destroy();
  });

  /** ping from the overlay address of host a to host b's underlay address, which has no route into the overlay. */
  const pingFromOverlay = async (src: string) => {
    const r = await tb.exec('a', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-I', src, tb.hosts.b.underlayIPv4], {
      timeoutMs: 10_000,
      allowFail: true,
    });
    return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  };
  const ourRules = async () => (await tb.exec('a', ['nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.includes('vxtun_'));

  it('masquerades overlay traffic leaving the overlay, and removes its rules on stop', async () => {
    await cluster.etcdctl(['put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}']);
    agent = await cluster.startAgent('a', ['--ip-masq']);
    const src = agent.subnet.replace(/\/24$/, '');
    expect(readFileSync(agent.subnetFile, 'utf8')).toContain('FLANNEL_IPMASQ=true\n');
    expect(await ourRules()).toEqual([`table ip vxtun_${tb.prefix}t`]);
    expect(await pingFromOverlay(src)).toBe(2);

    // Without the rules b would answer 10.244.x.0, which it cannot route: nothing comes back.
    await tb.exec('a', ['nft', 'delete', 'table', 'ip', `vxtun_${tb.prefix}t`]);
    expect(await pingFromOverlay(src)).toBe(0);
    // flanneld puts removed rules back within 5 s; so does vxtun.
    await new Promise((r) => setTimeout(r, 6000));
    expect(await pingFromOverlay(src)).toBe(2);
    expect(agent.output()).toContain('"msg":"ip-masq rules were removed by something else; putting them back"');

    await agent.stop();
    agent = undefined;
    expect(await ourRules()).toEqual([]);
  }, 60_000);
});
