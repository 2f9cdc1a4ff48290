/**
 * `vxtun agent` on a two-host testbed, the way an operator would run it: the registry (`vxtun registry`, or a
 * real etcd) runs inside host a's namespace on its underlay address, so both hosts reach it over the underlay; the network
 * config is written with etcdctl; each agent keeps its state and subnet.env in its own directory, which
 * survives an agent restart. Shared by the demo and the namespace test.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VxtunError } from '../dataplane/errors.js';
import { repoRoot, type AnyHostName, type HostName, type Testbed, type TrackedProcess } from './testbed/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTools } from './testbed/tools.js';
import { etcdMemberArgs } from './registry/etcd-process.js';

export const DEFAULT_PREFIX = '/coreos.com/network';
const REGISTRY_PORT = 2379;

export interface RunningAgent {
  readonly host: AnyHostName;
  readonly pid: number;
  /** The subnet the agent leased, e.g. `10.244.37.0/24`. */
  readonly subnet: string;
  readonly subnetFile: string;
  output(): string;
  /** SIGTERM and wait; returns the counters of the "final stats" line. */
  stop(): Promise<Record<string, unknown>>;
}

export interface AgentCluster<H extends AnyHostName = HostName> {
  readonly endpoint: string;
  /** Working directory (registry data, each host's state and subnet.env); close() removes it. */
  readonly dir: string;
  readonly prefix: string;
  /** etcdctl (API v3) run inside host a against the registry; returns stdout. */
  etcdctl(args: readonly string[]): Promise<string>;
  /** Every key under `<prefix>/subnets/` with its value. */
  leases(): Promise<Map<string, string>>;
  startAgent(host: H, extraArgs?: readonly string[]): Promise<RunningAgent>;
  /** Starts an agent without waiting for it to come up; `running` resolves once it runs, rejects if it exits first. */
  spawnAgent(host: H, extraArgs?: readonly string[]): { running: Promise<RunningAgent>; process: TrackedProcess };
  /** Stops the registry (SIGTERM, or SIGKILL as a crash), or one member of an etcd cluster; its data directory stays. */
  stopRegistry(signal: 'SIGTERM' | 'SIGKILL', member?: number): Promise<void>;
  /** Starts the registry (or that member) again on the same address and data directory; resolves when it answers. */
  startRegistry(member?: number): Promise<void>;
  /** The agent process's established TCP connections to registry members (`member`: index of the endpoint). */
  registryConnections(agent: RunningAgent): Promise<{ member: number; local: string }[]>;
  /**
   * Waits (bounded) until every etcd member still running follows one leader among them (`member`, if given);
   * returns the leader's index. Until the survivors notice that a killed leader is gone (about an election timeout), a
   * follower forwards writes to it, where they are lost: such a write ends only at its timeout ("request timed out,
   * possibly due to previous leader failure").
   */
  waitForLeader(timeoutMs: number, member?: number): Promise<number>;
  /** Makes that etcd member the leader (etcdctl move-leader) and waits until every running member follows it. */
  moveLeader(member: number, timeoutMs: number): Promise<void>;
  /** Stops every agent still running and the registry, and removes the working directory. */
  close(): Promise<void>;
}

export interface AgentClusterOptions {
  prefix?: string;
  /** Lease TTL passed to every agent, e.g. `60s`. */
  leaseTtl?: string;
  workers?: number;
  /** The vxtun CLI to run (default dist/control/cli.js). */
  cli?: string;
  /**
   * `vxtun registry` (default), Debian's etcd 3.4 (/usr/bin/etcd), or three etcd members (`etcd-cluster`), all
   * inside host a on its underlay address (client ports 2379, 12379, 22379: the namespace is the test's own).
   */
  registry?: 'vxtun' | 'etcd' | 'etcd-cluster';
}

export async function startAgentCluster<H extends AnyHostName = HostName>(
  tb: Testbed<H>,
  o: AgentClusterOptions = {},
): Promise<AgentCluster<H>> {
  const a = 'a' as H; // every testbed has host a; the registry runs there
  const cli = o.cli ?? process.env.VXTUN_CLI ?? join(repoRoot(), 'dist', 'control', 'cli.js');
  if (!existsSync(cli)) throw new VxtunError('VXTUN_ERR_TESTBED', `${cli} does not exist: build vxtun first with \`npm run build\``);
  // Without etcdctl the health check below could only time out and blame the registry.
  requireTools(
    [
      { command: 'etcdctl', pkg: 'etcd-client' },
      ...(o.registry === 'etcd' || o.registry === 'etcd-cluster' ? [{ command: 'etcd', pkg: 'etcd-server' }] : []),
    ],
    'VXTUN_ERR_TESTBED',
    'the agent cluster',
  );
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const dir = mkdtempSync(join(tmpdir(), `vxtun-agents-${tb.prefix}-`));
  const ip = tb.hosts[a].underlayIPv4;
  const etcdMember = (name: string, n: number, cluster: string) => {
    const url = `http://${ip}:${REGISTRY_PORT + 10_000 * n}`;
    const peer = `http://127.0.0.1:${REGISTRY_PORT + 1 + 10_000 * n}`;
    return {
      endpoint: url,
      argv: [
        'etcd',
        ...etcdMemberArgs({ name, dataDir: join(dir, `registry-${name}`), clientUrl: url, peerUrl: peer, initialCluster: cluster }),
      ],
    };
  };
  const peerOf = (name: string, n: number) => `${name}=http://127.0.0.1:${REGISTRY_PORT + 1 + 10_000 * n}`;
  const members =
    o.registry === 'etcd-cluster'
      ? ['m0', 'm1', 'm2'].map((name, n, all) => etcdMember(name, n, all.map(peerOf).join(',')))
      : o.registry === 'etcd'
        ? [etcdMember('a', 0, peerOf('a', 0))]
        : [
            {
              endpoint: `http://${ip}:${REGISTRY_PORT}`,
              argv: ['node', cli, 'registry', '--listen', `${ip}:${REGISTRY_PORT}`, '--insecure', '--data-dir', join(dir, 'registry')],
            },
          ];
  const endpoint = members.map((m) => m.endpoint).join(',');
  const running = new Set<TrackedProcess>();
  const procs: (TrackedProcess | undefined)[] = members.map((m) => {
    const p = tb.spawn(a, m.argv);
    running.add(p);
    return p;
  });
  const close = async () => {
    await Promise.allSettled([...running].map((p) => p.stop(5_000)));
    rmSync(dir, { recursive: true, force: true });
  };
  const etcdctlAt =
    (endpoints: string) =>
    async (args: readonly string[], timeoutMs = 15_000) =>
      (await tb.exec(a, ['etcdctl', '--endpoints', endpoints, '--dial-timeout', '3s', '--command-timeout', '5s', ...args], { timeoutMs }))
        .stdout;
  // Only the members running now: etcd 3.4's etcdctl does not retry a put that its balancer sent to a member just
  // killed, so listing a dead endpoint fails the command (DeadlineExceeded) even though the cluster has quorum.
  const etcdctl = (args: readonly string[], timeoutMs?: number) =>
    etcdctlAt(members.flatMap((m, n) => (procs[n] === undefined ? [] : [m.endpoint])).join(',') || endpoint)(args, timeoutMs);
  try {
    for (const [n, m] of members.entries()) await waitForHealth(procs[n]!, etcdctlAt(m.endpoint), 20_000);
  } catch (err) {
    await close();
    throw err;
  }

  const spawnAgent = (host: H, extraArgs: readonly string[] = []) => {
    const home = join(dir, host);
    const subnetFile = join(home, 'subnet.env');
    const argv = [
      'node',
      cli,
      'agent',
      '--etcd-endpoints',
      endpoint,
      '--etcd-prefix',
      prefix,
      '--public-ip',
      tb.hosts[host].underlayIPv4,
      '--subnet-file',
      subnetFile,
      '--state-dir',
      join(home, 'state'),
      '--tun-name',
      `${tb.prefix}t`,
      ...(o.leaseTtl ? ['--subnet-lease-ttl', o.leaseTtl] : []),
      ...(o.workers ? ['--workers', String(o.workers)] : []),
      ...extraArgs,
    ];
    const proc = tb.spawn(host, argv);
    running.add(proc);
    const started = (async (): Promise<RunningAgent> => {
      try {
        const line = await waitForLine(proc, '"msg":"vxtun agent running"', 60_000, `vxtun agent on host ${host}`);
        const subnet = String(JSON.parse(line).subnet);
        return {
          host,
          pid: proc.pid,
          subnet,
          subnetFile,
          output: () => proc.output(),
          async stop() {
            await proc.stop(5_000);
            running.delete(proc);
            const code = await proc.exited;
            const final = proc
              .output()
              .split('\n')
              .find((l) => l.includes('"msg":"final stats"'));
            if (code !== 0 || !final)
              throw new VxtunError('VXTUN_ERR_TESTBED', `vxtun agent on host ${host} exited with ${code}:\n${proc.output()}`);
            return JSON.parse(final).stats as Record<string, unknown>;
          },
        };
      } catch (err) {
        await proc.stop(1_000);
        running.delete(proc);
        throw err;
      }
    })();
    started.catch(() => undefined);
    return { running: started, process: proc };
  };

  const waitForLeader = async (timeoutMs: number, member?: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await etcdctl(['endpoint', 'status', '-w', 'json'], 5_000).catch(() => '');
      const { leader } = clusterStatus(text, members, procs.filter((p) => p !== undefined).length);
      if (leader !== undefined && (member === undefined || leader === member)) return leader;
      if (Date.now() > deadline)
        throw new VxtunError(
          'VXTUN_ERR_TESTBED',
          `the running etcd members agreed on no leader ${member === undefined ? 'among them' : `m${member}`} within ${timeoutMs} ms:\n${text}`,
        );
      await sleep(100);
    }
  };

  return {
    endpoint,
    dir,
    prefix,
    etcdctl,
    async leases() {
      const lines = (await etcdctl(['get', '--prefix', `${prefix}/subnets/`])).split('\n').filter((l) => l !== '');
      const out = new Map<string, string>();
      for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i], lines[i + 1]);
      return out;
    },
    startAgent: (host, extraArgs = []) => spawnAgent(host, extraArgs).running,
    spawnAgent,
    async stopRegistry(signal, member) {
      for (const n of member === undefined ? members.keys() : [member]) {
        const p = procs[n];
        if (!p) continue;
        if (signal === 'SIGKILL') p.child.kill('SIGKILL');
        await p.stop(5_000);
        running.delete(p);
        procs[n] = undefined;
      }
    },
    async startRegistry(member) {
      const which = member === undefined ? [...members.keys()] : [member];
      for (const n of which) {
        procs[n] = tb.spawn(a, members[n].argv);
        running.add(procs[n]!);
      }
      for (const n of which) await waitForHealth(procs[n]!, etcdctlAt(members[n].endpoint), 20_000);
    },
    async registryConnections(agent) {
      // Columns without the state: Recv-Q Send-Q Local Peer Process.
      const { stdout } = await tb.exec(agent.host as H, ['ss', '-tnpH', 'state', 'established', 'dst', ip]);
      return stdout
        .split('\n')
        .filter((line) => line.includes(`pid=${agent.pid},`))
        .map((line) => line.trim().split(/\s+/))
        .map(([, , local, peer]) => ({ member: members.findIndex((m) => m.endpoint === `http://${peer}`), local }))
        .filter((c) => c.member >= 0);
    },
    waitForLeader,
    async moveLeader(member, timeoutMs) {
      const { ids } = clusterStatus(await etcdctl(['endpoint', 'status', '-w', 'json']), members, 0);
      const id = ids[member];
      if (id === undefined) throw new VxtunError('VXTUN_ERR_TESTBED', `etcd member m${member} did not report its ID`);
      if ((await waitForLeader(timeoutMs)) === member) return;
      await etcdctl(['move-leader', BigInt(id).toString(16)]);
      await waitForLeader(timeoutMs, member);
    },
    close,
  };
}

/**
 * `etcdctl endpoint status -w json` read per member: its ID, and the index of the member they all follow if every one
 * of the `running` members answered and they agree on a leader among them. IDs are 64-bit: kept as decimal strings.
 */
function clusterStatus(
  text: string,
  members: readonly { endpoint: string }[],
  running: number,
): { ids: (string | undefined)[]; leader?: number } {
  const ids: (string | undefined)[] = members.map(() => undefined);
  const leaders = new Set<string | undefined>();
  const each = text.split('{"Endpoint":').slice(1);
  for (const e of each) {
    const n = members.findIndex((m) => e.startsWith(`"${m.endpoint}"`));
    if (n >= 0) ids[n] = /"member_id":(\d+)/.exec(e)?.[1];
    leaders.add(/"leader":(\d+)/.exec(e)?.[1]);
  }
  const [leader] = leaders;
  const index = leaders.size === 1 && each.length === running && leader !== undefined ? ids.indexOf(leader) : -1;
  return index >= 0 ? { ids, leader: index } : { ids };
}

async function waitForHealth(
  p: TrackedProcess,
  etcdctl: (args: string[], timeoutMs: number) => Promise<string>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await etcdctl(['endpoint', 'health'], 5_000).then(
        () => true,
        () => false,
      )
    )
      return;
    if (p.child.exitCode !== null || Date.now() > deadline) {
      throw new VxtunError(
        'VXTUN_ERR_TESTBED',
        `the registry ${p.child.exitCode !== null ? 'exited' : `was not healthy within ${timeoutMs} ms`}:\n${p.output().slice(-4000)}`,
      );
    }
    await sleep(200);
  }
}

/** Waits (bounded) until the process printed a line containing `needle`; returns that line. */
async function waitForLine(p: TrackedProcess, needle: string, timeoutMs: number, what: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = p
      .output()
      .split('\n')
      .find((l) => l.includes(needle));
    if (line) return line;
    const exited = p.child.exitCode !== null || p.child.signalCode !== null;
    if (exited || Date.now() > deadline) {
      throw new VxtunError(
        'VXTUN_ERR_TESTBED',
        `${what} ${exited ? 'exited' : `did not start within ${timeoutMs} ms`}:\n${p.output().slice(-4000)}`,
      );
    }
    await sleep(50);
  }
}

export function readSubnetFile(path: string): string {
  return readFileSync(path, 'utf8');
}
