/**
 * The registry is never on the packet path: two `vxtun agent` hosts keep forwarding while `vxtun registry` is
 * stopped, killed or silently partitioned away, come up when it appears, and pick up what changed meanwhile.
 * A second host started with another host's --public-ip is stopped with a lease conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type AnyHostName, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRoot, ping, tcpTransfer, waitFor } from './harness.js';

const MB = 1024 * 1024;
const CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
const key = (subnet: string) => `/coreos.com/network/subnets/${subnet.replace('/', '-')}`;
const gateway = (subnet: string) => subnet.replace(/\/\d+$/, '');

describe.runIf(isRoot)('vxtun agent through registry outages', () => {
  let tb: Testbed<AnyHostName>;
  let cluster: AgentCluster<AnyHostName>;
  const agents: Partial<Record<AnyHostName, RunningAgent>> = {};

  beforeAll(async () => {
    tb = await createTestbed({ hosts: 3 });
    cluster = await startAgentCluster(tb, { workers: 1 });
  });

  afterAll(async () => {
    await Promise.allSettled([agents.a?.stop(), agents.b?.stop(), agents.c?.stop()]);
    await cluster?.close();
    await tb?.destroy();
  });

  /** A lease for a host that is not there, written as flanneld writes one; returns the subnet. */
  const writeThirdLease = async (third: number): Promise<string> => {
    const subnet = `10.244.${200 + third}.0/24`;
    await cluster.etcdctl([
      'put',
      key(subnet),
      `{"PublicIP":"198.18.250.${third}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:fa:0${third}"}}`,
    ]);
    return subnet;
  };
  const peerAdded = (agent: RunningAgent, subnet: string) =>
    new RegExp(`"subnet":"${subnet.replace(/\./g, '\\.')}"[^\\n]*"msg":"peer added"`).test(agent.output());
  /** The agent's log from a mark taken with `mark()` on. */
  const mark = (agent: RunningAgent) => {
    const at = agent.output().length;
    return () => agent.output().slice(at);
  };
  /** Connected: the last word about the registry is a (re)listing, not an outage. */
  const connected = (agent: RunningAgent) => {
    const out = agent.output();
    return (
      Math.max(out.lastIndexOf('"msg":"resynced'), out.lastIndexOf('"msg":"vxtun agent running"')) >
      out.lastIndexOf('registry unreachable since')
    );
  };
  const bothConnected = () =>
    waitFor(() => connected(agents.a!) && connected(agents.b!), 20_000, 'both agents to be connected to the registry').catch((e: Error) => {
      throw new Error(`${e.message}\na: ${agents.a!.output().slice(-2000)}\nb: ${agents.b!.output().slice(-2000)}`);
    });

  it('agents started before the registry and before the config come up when each appears', async () => {
    await cluster.stopRegistry('SIGTERM');
    const a = cluster.spawnAgent('a');
    await waitFor(
      () => a.process.output().includes('"msg":"waiting for the network config: no registry endpoint answered'),
      10_000,
      'agent a to wait for the registry',
    );
    await cluster.startRegistry();
    await waitFor(
      () => a.process.output().includes('"msg":"waiting for the network config: no network config at'),
      15_000,
      'agent a to wait for the config',
    );
    await cluster.etcdctl(['put', '/coreos.com/network/config', CONFIG]);
    agents.a = await a.running;

    // Killed 1 s after the agent starts: it comes up once the registry is back.
    const b = cluster.spawnAgent('b');
    await sleep(1000);
    await cluster.stopRegistry('SIGKILL');
    await sleep(2000);
    expect(b.process.child.exitCode).toBe(null);
    await cluster.startRegistry();
    agents.b = await b.running;
    expect(await ping(tb, 'a', gateway(agents.b.subnet))).toBe(3);
  }, 90_000);

  it('registry stopped for 30 s, then killed with -9 and restarted: ping loses nothing, 200 MB arrive intact, no agent exits', async () => {
    const { a, b } = agents as Record<'a' | 'b', RunningAgent>;
    for (const round of [
      { signal: 'SIGTERM' as const, downMs: 30_000, third: 1, peers: 1 },
      { signal: 'SIGKILL' as const, downMs: 10_000, third: 2, peers: 2 },
    ]) {
      await bothConnected();
      const [logA, logB] = [mark(a), mark(b)];
      const pings = Math.round((round.downMs + 8_000) / 200);
      const pinging = tb.exec('a', ['ping', '-c', String(pings), '-i', '0.2', '-W', '1', gateway(b.subnet)], {
        timeoutMs: round.downMs + 30_000,
        allowFail: true,
      });
      await sleep(1000);
      await cluster.stopRegistry(round.signal);
      const transfer = round.signal === 'SIGTERM' ? tcpTransfer(tb, 'a', 'b', gateway(b.subnet), 200 * MB, 5201, 120_000) : undefined;
      await waitFor(
        () => logA().includes('registry unreachable since') && logB().includes('registry unreachable since'),
        15_000,
        'both agents to notice the outage',
      );
      await sleep(round.downMs);
      await cluster.startRegistry();
      const done = await pinging;
      const sent = /(\d+) packets transmitted, (\d+) received/.exec(done.stdout);
      expect(sent?.slice(1).map(Number), `${round.signal}: ping during the outage`).toEqual([pings, pings]);
      if (transfer) {
        const r = await transfer;
        expect(r.received).toEqual(r.sent);
      }
      const resynced = `"msg":"resynced: ${round.peers} peers (+0 −0)"`;
      await waitFor(() => logA().includes(resynced) && logB().includes(resynced), 20_000, 'both agents to resync');
      // A host that joins after the registry returns is routed to by both within 10 s.
      if (round.signal === 'SIGTERM') {
        const c = (agents.c = await cluster.startAgent('c'));
        const joined = Date.now();
        for (const from of ['a', 'b'] as const) {
          while ((await ping(tb, from, gateway(c.subnet), 1)) !== 1)
            expect(Date.now() - joined, `${from} routing to the new agent c`).toBeLessThan(10_000);
        }
      } else {
        const third = await writeThirdLease(round.third);
        await waitFor(() => peerAdded(a, third) && peerAdded(b, third), 10_000, 'both agents to add the new lease');
      }
    }
    const leases = await cluster.leases();
    expect(leases.has(key(a.subnet)) && leases.has(key(b.subnet))).toBe(true);
    expect(a.output()).not.toContain('"msg":"final stats"');
    expect(b.output()).not.toContain('"msg":"final stats"');
  }, 240_000);

  it('registry silently partitioned away and replaced on the same address: a lease written afterwards reaches the agents within 15 s', async () => {
    const { a, b } = agents as Record<'a' | 'b', RunningAgent>;
    const dev = tb.hosts.a.dev;
    await bothConnected();
    const logB = mark(b);
    // Host a drops the registry's traffic to and from host b without a word: no FIN, no RST reach agent b.
    const table = `${tb.prefix}cut`;
    await tb.exec('a', [
      'nft',
      `add table inet ${table}; add chain inet ${table} in { type filter hook input priority 0; }; add chain inet ${table} out { type filter hook output priority 0; }; add rule inet ${table} in iifname ${dev} tcp dport 2379 drop; add rule inet ${table} out oifname ${dev} tcp sport 2379 drop`,
    ]);
    try {
      await cluster.stopRegistry('SIGKILL');
      // The dead registry's half-closed sockets go too (their RSTs are dropped), so no late FIN reaches agent b.
      await tb.exec('a', ['ss', '-K', '-tn', 'state', 'all', '( sport = :2379 )']);
      await cluster.startRegistry();
    } finally {
      await tb.exec('a', ['nft', 'delete', 'table', 'inet', table]);
    }
    const third = await writeThirdLease(3);
    const written = Date.now();
    await waitFor(() => peerAdded(a, third) && peerAdded(b, third), 15_000, 'both agents to add the lease written after the partition');
    expect(Date.now() - written).toBeLessThan(15_000);
    // Agent b learnt of the loss only by probing: nothing told it the old connection was gone.
    expect(logB()).not.toContain('watch stream from');

    expect(await ping(tb, 'b', gateway(a.subnet))).toBe(3);
  }, 60_000);

  it("a second host started with another host's --public-ip is stopped with a lease conflict, and traffic to the first works after", async () => {
    const { a } = agents as Record<AnyHostName, RunningAgent>;
    await agents.c!.stop();
    agents.c = undefined;
    const intruder = cluster.spawnAgent('c', [
      '--public-ip',
      tb.hosts.a.underlayIPv4,
      '--iface',
      tb.hosts.c.dev,
      '--state-dir',
      `${cluster.dir}/intruder-state`,
      '--subnet-file',
      `${cluster.dir}/intruder.env`,
    ]);
    const code = await Promise.race([intruder.process.exited, sleep(30_000).then(() => 'still running')]);
    expect(code).toBe(1);
    const mac = JSON.parse((await cluster.leases()).get(key(a.subnet))!).BackendData.VtepMAC as string;
    expect(intruder.process.output()).toMatch(
      new RegExp(
        `vxtun: VXTUN_ERR_LEASE_CONFLICT: lease conflict on ${a.subnet.replace(/\./g, '\\.')}: the host with VTEP MAC ${mac} that held this lease for public IP ${tb.hosts.a.underlayIPv4.replace(/\./g, '\\.')} is still running`,
      ),
    );
    expect(a.output()).toContain(
      '"msg":"another host with our public IP overwrote our lease (same --public-ip on two hosts?); writing ours back"',
    );
    expect(JSON.parse((await cluster.leases()).get(key(a.subnet))!).PublicIP).toBe(tb.hosts.a.underlayIPv4);
    expect(await ping(tb, 'b', gateway(a.subnet))).toBe(3);
  }, 90_000);

  it('an agent restarted by its supervisor keeps subnet and VTEP MAC, and a TCP flow through it survives', async () => {
    const before = { subnet: agents.b!.subnet, lease: (await cluster.leases()).get(key(agents.b!.subnet)) };
    const server = tb.spawn('b', ['iperf3', '-s', '-1', '-B', gateway(before.subnet)]);
    await sleep(500);
    const client = tb.exec('a', ['iperf3', '-c', gateway(before.subnet), '-t', '8', '-b', '50M', '--connect-timeout', '3000'], {
      timeoutMs: 40_000,
      allowFail: true,
    });
    await sleep(2000);
    await agents.b!.stop();
    agents.b = await cluster.startAgent('b');
    const r = await client;
    await server.stop(2000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/receiver/);
    expect(agents.b.subnet).toBe(before.subnet);
    expect((await cluster.leases()).get(key(before.subnet))).toBe(before.lease);
  }, 60_000);
});
