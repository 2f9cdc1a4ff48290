/**
 * Operating a running agent: `vxtun status` (human and --json) through the root-only control socket shows the
 * lease, the registry and each peer, whose counters grow by what a known transfer moved; the --metrics-listen
 * endpoint's Prometheus counters agree with it; /readyz fails before the lease and passes after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, randomVtepMac, type Testbed } from '../../bench/testbed/index.js';
import { startAgentCluster, type AgentCluster, type RunningAgent } from '../../bench/agent-cluster.js';
import { CLI, isRoot, ping, startStatic, tcpTransfer, waitFor, type VxtunProc } from './harness.js';

const CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
const METRICS_PORT = 9108; // inside the test's own namespaces: nothing else listens there
const MB = 1024 * 1024;
const gateway = (subnet: string) => subnet.replace(/\/\d+$/, '');

interface PeerJson {
  subnet: string;
  publicIp: string;
  vtepMac: string;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  lastRxAt: string | null;
}
interface StatusJson {
  kind: string;
  subnet: string;
  tun: { name: string; mtu: number; workers: number; workerRestarts: number; offloads: { tunnelGso: string | null } };
  agent: { lease: { subnet: string; expiresAt: string } | null; registry: { connected: boolean }; ready: boolean };
  peers: PeerJson[];
  drops: Record<string, number>;
}

/** `vxtun status --json` of the host in `host`'s namespace whose TUN is `tun`. */
const statusOf = async (tb: Testbed, host: 'a' | 'b', tun: string): Promise<StatusJson> =>
  JSON.parse((await tb.exec(host, [process.execPath, CLI, 'status', '--tun-name', tun, '--json'])).stdout) as StatusJson;

/** GET on the host's metrics endpoint (loopback inside its namespace): status code and body. */
async function get(tb: Testbed, host: 'a' | 'b', path: string): Promise<{ code: number; body: string }> {
  const script = `fetch('http://127.0.0.1:${METRICS_PORT}${path}').then(async (r) => console.log(JSON.stringify({ code: r.status, body: await r.text() })), (e) => { console.log(JSON.stringify({ code: 0, body: String(e) })); })`;
  return JSON.parse((await tb.exec(host, [process.execPath, '-e', script])).stdout) as { code: number; body: string };
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split('\n')
    .find(
      (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

describe.runIf(isRoot)('vxtun status, metrics and health of a running agent', () => {
  let tb: Testbed;
  let cluster: AgentCluster;
  const agents: Partial<Record<'a' | 'b', RunningAgent>> = {};
  const status = (host: 'a' | 'b') => statusOf(tb, host, `${tb.prefix}t`);

  beforeAll(async () => {
    tb = await createTestbed();
    cluster = await startAgentCluster(tb, { workers: 2 });
  });

  afterAll(async () => {
    await Promise.allSettled([agents.a?.stop(), agents.b?.stop()]);
    await cluster?.close();
    await tb?.destroy();
  });

  it('/readyz answers 503 while the agent waits for its lease and 200 once it holds one; /healthz 200 throughout', async () => {
    const a = cluster.spawnAgent('a', ['--metrics-listen', String(METRICS_PORT)]);
    await waitFor(() => a.process.output().includes('HTTP endpoint listening'), 20_000, 'metrics endpoint of agent a');
    const before = await get(tb, 'a', '/readyz');
    expect(before.code).toBe(503);
    expect(JSON.parse(before.body)).toMatchObject({ phase: 'waiting', ready: false, lease: null });
    expect((await get(tb, 'a', '/healthz')).code).toBe(200);
    expect((await get(tb, 'a', '/metrics')).code).toBe(503);
    // The control socket answers while the agent waits: what it waits for, no TUN yet.
    const waiting = await status('a');
    expect(waiting).toMatchObject({
      kind: 'agent',
      tun: null,
      peers: [],
      agent: { phase: 'waiting', waitingFor: 'the network config', lease: null },
    });
    const human = (await tb.exec('a', [process.execPath, CLI, 'status', '--tun-name', `${tb.prefix}t`])).stdout;
    expect(human).toContain('lease: none yet (waiting for the network config)');
    expect(human).toContain('tun: not up yet');

    await cluster.etcdctl(['put', `${cluster.prefix}/config`, CONFIG]);
    agents.a = await a.running;
    const after = await get(tb, 'a', '/readyz');
    expect(after.code).toBe(200);
    expect(JSON.parse(after.body).lease.subnet).toBe(agents.a.subnet);
    agents.b = await cluster.startAgent('b', ['--metrics-listen', String(METRICS_PORT)]);
  });

  it('status --json shows the lease, the registry and the other host as a peer; its counters grow by a 20 MB transfer', async () => {
    const { a, b } = agents as Required<typeof agents>;
    await waitFor(() => a.output().includes(`${b.subnet}@`), 20_000, 'agent a to add host b as a peer');
    const s0 = await status('a');
    expect(s0).toMatchObject({ kind: 'agent', subnet: a.subnet, tun: { name: `${tb.prefix}t`, workers: 2, workerRestarts: 0 } });
    expect(s0.agent.lease?.subnet).toBe(a.subnet);
    expect(Date.parse(s0.agent.lease!.expiresAt)).toBeGreaterThan(Date.now());
    expect(s0.agent.registry.connected).toBe(true);
    expect(s0.peers.map((p) => [p.subnet, p.publicIp])).toEqual([[b.subnet, tb.hosts.b.underlayIPv4]]);
    const b0 = (await status('b')).peers.find((p) => p.subnet === a.subnet)!;

    const r = await tcpTransfer(tb, 'a', 'b', gateway(b.subnet), 20 * MB);
    expect(r.received.sha256).toBe(r.sent.sha256);
    const peerOfA = (await status('a')).peers[0];
    const peerOfB = (await status('b')).peers.find((p) => p.subnet === a.subnet)!;
    // Inner IP bytes: the payload plus at most ~5 % of IP/TCP headers; the ACKs flow back.
    const sent = peerOfA.txBytes - s0.peers[0].txBytes;
    const received = peerOfB.rxBytes - b0.rxBytes;
    expect(sent).toBeGreaterThanOrEqual(20 * MB);
    expect(sent).toBeLessThan(21 * MB);
    expect(received).toBeGreaterThanOrEqual(20 * MB);
    expect(received).toBeLessThanOrEqual(sent);
    expect(peerOfA.rxPackets - s0.peers[0].rxPackets).toBeGreaterThan(100);
    expect(Date.now() - Date.parse(peerOfA.lastRxAt!)).toBeLessThan(30_000);

    const text = (await get(tb, 'a', '/metrics')).body;
    const labels = { peer: b.subnet, public_ip: tb.hosts.b.underlayIPv4 };
    expect(metric(text, 'vxtun_peer_bytes_total', { ...labels, direction: 'tx' })).toBe(peerOfA.txBytes);
    expect(metric(text, 'vxtun_peer_packets_total', { ...labels, direction: 'rx' })).toBe(peerOfA.rxPackets);
    expect(metric(text, 'vxtun_bytes_total', { direction: 'tx' })).toBeGreaterThanOrEqual(peerOfA.txBytes);
    expect(text).toMatch(/^vxtun_registry_reachable 1$/m);
    expect(text).toMatch(/^vxtun_worker_restarts_total 0$/m);
    expect(metric(text, 'vxtun_lease_expiry_timestamp_seconds', {})).toBeCloseTo(
      Date.parse((await status('a')).agent.lease!.expiresAt) / 1000,
      0,
    );
  });

  it('status without --json reads like wg show; the socket is root-only and a missing one is named', async () => {
    const { a, b } = agents as Required<typeof agents>;
    const human = (await tb.exec('a', [process.execPath, CLI, 'status', '--tun-name', `${tb.prefix}t`])).stdout;
    expect(human).toContain(`agent ${tb.prefix}t: public ip ${tb.hosts.a.underlayIPv4}`);
    expect(human).toContain(`lease: ${a.subnet}, expires `);
    expect(human).toContain('registry: connected');
    expect(human).toMatch(
      new RegExp(
        `peer ${b.subnet.replace(/\./g, '\\.')}\\n  public ip: ${tb.hosts.b.underlayIPv4.replace(/\./g, '\\.')}\\n  vtep mac: [0-9a-f:]{17}\\n  transfer: [\\d.]+ (B|KiB|MiB) received \\(\\d+ packets\\), [\\d.]+ MiB sent`,
      ),
    );
    expect(human).toMatch(/latest packet: \d+ (s|min \d+ s) ago/);

    const sock = (await tb.exec('a', ['sh', '-c', `ls -l /run/vxtun/netns-*.${tb.prefix}t.sock`])).stdout;
    expect(sock).toMatch(/^srw------- 1 root /m);
    const missing = await tb.exec('a', [process.execPath, CLI, 'status', '--tun-name', 'nosuchtun'], { allowFail: true });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^vxtun: VXTUN_ERR_NOT_RUNNING: no vxtun answers on \/run\/vxtun\/netns-\d+\.nosuchtun\.sock \(ENOENT\)/,
    );
  });
});

describe.runIf(isRoot)('vxtun status and metrics of static hosts', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };

  beforeAll(async () => {
    tb = await createTestbed();
    const mac = { a: randomVtepMac(), b: randomVtepMac() };
    for (const [self, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      procs[self] = await startStatic(
        tb,
        self,
        {
          publicIp: tb.hosts[self].underlayIp,
          subnet: subnet[self],
          vtepMac: mac[self],
          tunName: `${tb.prefix}s`,
          workers: 1,
          peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnet[other], vtepMac: mac[other] }],
        },
        ['--metrics-listen', String(METRICS_PORT)],
      );
    }
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('a static host reports its peer and counters; /readyz 200 while forwarding; --watch repeats until interrupted', async () => {
    expect(await ping(tb, 'a', '10.244.2.0', 3)).toBe(3);
    const s = await statusOf(tb, 'a', `${tb.prefix}s`);
    expect(s).toMatchObject({ kind: 'static', subnet: subnet.a, agent: null, tun: { workers: 1 } });
    expect(s.peers).toHaveLength(1);
    expect(s.peers[0]).toMatchObject({ subnet: subnet.b, publicIp: tb.hosts.b.underlayIp });
    expect(s.peers[0].txPackets).toBeGreaterThanOrEqual(3);
    expect(s.peers[0].rxPackets).toBeGreaterThanOrEqual(3);
    expect((await get(tb, 'a', '/readyz')).code).toBe(200);
    expect((await get(tb, 'a', '/healthz')).code).toBe(200);
    const text = (await get(tb, 'a', '/metrics')).body;
    expect(metric(text, 'vxtun_peers', {})).toBe(1);
    // The testbed's veth segments UDP tunnels itself: super-packets leave whole through the tunnel TAP.
    expect(s.tun?.offloads.tunnelGso).toBe(`${tb.prefix}s-gso`);
    expect(metric(text, 'vxtun_tunnel_gso', {})).toBe(1);
    expect(metric(text, 'vxtun_peer_packets_total', { peer: subnet.b, direction: 'rx' })).toBe(s.peers[0].rxPackets);
    expect(text).not.toMatch(/^vxtun_registry_reachable /m);

    const watch = tb.spawn('a', [process.execPath, CLI, 'status', '--tun-name', `${tb.prefix}s`, '--watch', '1']);
    await waitFor(() => watch.output().split('static ').length > 2, 10_000, 'two status prints from --watch');
    await watch.stop(3_000);
    expect(await watch.exited).toBe(0);
  });
});
