/**
 * What a running host (agent or static) tells its operator: one status object, served on a local control socket
 * (`/run/vxtun/<tun>.sock`, root only) for `vxtun status`, and as Prometheus text on `--metrics-listen` beside
 * `/healthz` and `/readyz`. Both read the dataplane's shared-memory counters when asked; nothing is pushed.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Dataplane, PeerStats } from '../dataplane/dataplane.js';
import { VxtunError } from '../dataplane/errors.js';
import { RUN_DIR } from '../dataplane/ownership.js';
import type { AgentStatus } from './agent-state.js';
import { startHttpEndpoint, type HttpEndpoint, type RouteHandler } from './http-endpoint.js';
import type { Logger } from './log.js';

export interface HostStatus {
  kind: 'agent' | 'static';
  pid: number;
  startedAt: string;
  /** Null while an agent has not chosen its interface yet. */
  publicIp: string | null;
  vtepMac: string | null;
  subnet: string | null;
  ipv6Subnet: string | null;
  /** The agent's lease and registry state; null on a static host. */
  agent: AgentStatus | null;
  /** Null until the dataplane runs (an agent still waiting for the registry, the config or a lease). */
  tun: {
    name: string;
    mtu: number;
    workers: number;
    workerRestarts: number;
    offloads: { vnetHdr: boolean; gso: boolean; gro: boolean; tunnelGso: string | null; tunnelGsoOff: string | null };
  } | null;
  peers: PeerStats[];
  counters: Record<string, number>;
  /** vxtun's own drop reasons, non-zero only. */
  drops: Record<string, number>;
  /** Drops the kernel counted on vxtun's behalf (TUN transmit queue full, receive socket overflow). */
  kernelDrops: Record<string, number>;
}

/** What the status is read from; an agent fills in the dataplane and its lease once it has them. */
export interface StatusSource {
  kind: HostStatus['kind'];
  tunName: string;
  dp?: Dataplane;
  publicIp?: string;
  vtepMac?: string;
  subnet?: string;
  ipv6Subnet?: string;
  agent?: () => AgentStatus;
}

function hostStatus(src: StatusSource, startedAt: string): HostStatus {
  const { dp } = src;
  const base = {
    kind: src.kind,
    pid: process.pid,
    startedAt,
    publicIp: src.publicIp ?? null,
    vtepMac: src.vtepMac ?? null,
    subnet: src.subnet ?? null,
    ipv6Subnet: src.ipv6Subnet ?? null,
    agent: src.agent?.() ?? null,
  };
  if (!dp) return { ...base, tun: null, peers: [], counters: {}, drops: {}, kernelDrops: {} };
  const s = dp.stats();
  return {
    ...base,
    tun: { name: dp.tunName, mtu: dp.overlayMtu, workers: s.perWorker.length, workerRestarts: dp.workerRestarts, offloads: dp.offloads },
    peers: dp.peerStats(),
    counters: s.counters,
    drops: Object.fromEntries(Object.entries(s.drops).filter(([, v]) => v > 0)),
    kernelDrops: { ...s.kernelDrops },
  };
}

/**
 * `/run/vxtun/<tun>.sock` in the machine's own network namespace; inside another one (a container, a test
 * namespace) the name carries the namespace's inode, as the ownership locks do, so equal TUN names there do not
 * collide. `vxtun status` run in the same namespace finds the same path.
 */
export function statusSocketPath(tunName: string, dir = RUN_DIR): string {
  const own = statSync('/proc/self/ns/net').ino;
  let init: number | null = null;
  try {
    init = statSync('/proc/1/ns/net').ino;
  } catch {
    // pid 1's namespace is not readable here: name by inode
  }
  return join(dir, own === init ? `${tunName}.sock` : `netns-${own}.${tunName}.sock`);
}

/** Answers every connection with the status as one JSON line, then closes it. Mode 0600: root only. */
async function serveStatusSocket(path: string, status: () => HostStatus, log: Logger): Promise<{ close(): Promise<void> }> {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
  // A socket file left by a crash answers nothing; one whose owner still runs answers: then it is not ours.
  if (existsSync(path)) {
    if (await answers(path))
      throw new VxtunError(
        'VXTUN_ERR_TUN_IN_USE',
        `another vxtun with this TUN name already runs here (it answers on ${path}); stop it, or give this one another TUN name`,
      );
    unlinkSync(path);
  }
  const server: Server = createServer((conn) => {
    conn.on('error', () => undefined);
    try {
      conn.end(`${JSON.stringify(status())}\n`);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'status request failed');
      conn.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  log.info({ socket: path }, 'status socket listening (vxtun status)');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      }),
  };
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(false);
    }, 1_000);
    c.once('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(true);
    });
    c.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Reads the status of the host whose socket is at `path` (for `vxtun status`). */
export function readStatus(path: string, timeoutMs = 5_000): Promise<HostStatus> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(
        new VxtunError('VXTUN_ERR_NOT_RUNNING', `${path} did not answer within ${timeoutMs} ms; is the vxtun behind it stuck? see its log`),
      );
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      text += d;
    });
    c.once('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as HostStatus);
      } catch {
        reject(new VxtunError('VXTUN_ERR_NOT_RUNNING', `${path} answered something that is not a vxtun status`));
      }
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'EACCES')
        reject(new VxtunError('VXTUN_ERR_PERMISSION', `${path} is readable by root only: run vxtun status with sudo`));
      else
        reject(
          new VxtunError(
            'VXTUN_ERR_NOT_RUNNING',
            `no vxtun answers on ${path} (${err.code ?? err.message}): start vxtun static or vxtun agent, or name its TUN with --tun-name`,
          ),
        );
    });
  });
}

/** Prometheus text of one host; an agent's lease and registry series only on an agent. */
function metricsRoute(status: () => HostStatus, agent: boolean): RouteHandler {
  const registry = new Registry();
  // Counters whose totals live in the dataplane: set to the current value on every scrape.
  const total = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (s: HostStatus, set: (labels: Record<string, string>, v: number) => void) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(current!, (labels, v) => this.inc(labels, v));
      },
    });
  const gauge = (name: string, help: string, read: (s: HostStatus) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read(current!);
        if (v === null) this.reset();
        else this.set(v);
      },
    });
  let current: HostStatus | undefined;
  total('vxtun_packets_total', 'Inner packets forwarded, by direction (tx: TUN to peers, rx: peers to TUN)', ['direction'], (s, set) => {
    set({ direction: 'tx' }, s.counters.txPackets);
    set({ direction: 'rx' }, s.counters.rxPackets);
  });
  total('vxtun_bytes_total', 'Inner IP bytes forwarded, by direction', ['direction'], (s, set) => {
    set({ direction: 'tx' }, s.counters.txBytes);
    set({ direction: 'rx' }, s.counters.rxBytes);
  });
  const peerLabels = (p: PeerStats) => ({ peer: p.subnet ?? p.ipv6Subnet ?? '', public_ip: p.publicIp });
  total(
    'vxtun_peer_packets_total',
    'Inner packets to and from each peer since it was added',
    ['peer', 'public_ip', 'direction'],
    (s, set) => {
      for (const p of s.peers) {
        set({ ...peerLabels(p), direction: 'tx' }, p.txPackets);
        set({ ...peerLabels(p), direction: 'rx' }, p.rxPackets);
      }
    },
  );
  total(
    'vxtun_peer_bytes_total',
    'Inner IP bytes to and from each peer since it was added',
    ['peer', 'public_ip', 'direction'],
    (s, set) => {
      for (const p of s.peers) {
        set({ ...peerLabels(p), direction: 'tx' }, p.txBytes);
        set({ ...peerLabels(p), direction: 'rx' }, p.rxBytes);
      }
    },
  );
  total('vxtun_drops_total', 'Packets vxtun dropped, by reason (README: drop reasons)', ['reason'], (s, set) => {
    for (const [reason, v] of Object.entries(s.drops)) set({ reason }, v);
  });
  total(
    'vxtun_kernel_drops_total',
    "Packets the kernel dropped on vxtun's behalf: tunTxQueue (TUN queue full), socketOverflow (receive buffer full)",
    ['reason'],
    (s, set) => {
      for (const [reason, v] of Object.entries(s.kernelDrops)) set({ reason }, v);
    },
  );
  total('vxtun_worker_restarts_total', 'Queue worker threads restarted after a failure', [], (s, set) =>
    set({}, s.tun?.workerRestarts ?? 0),
  );
  total('vxtun_tunnel_writes_total', 'TCP super-packets written whole to the tunnel TAP for the kernel to segment', [], (s, set) =>
    set({}, s.counters.tunnelWrites ?? 0),
  );
  gauge('vxtun_tunnel_gso', 'Whether TCP super-packets leave whole through the tunnel TAP (1) or are split into UDP segments (0)', (s) =>
    s.tun ? (s.tun.offloads.tunnelGso ? 1 : 0) : null,
  );
  gauge('vxtun_peers', 'Peers in the forwarding table', (s) => s.peers.length);
  gauge('vxtun_start_time_seconds', 'When this vxtun started, Unix seconds', (s) => Date.parse(s.startedAt) / 1000);
  if (agent) {
    total('vxtun_resyncs_total', 'Full re-lists of the registry after an outage or compaction', [], (s, set) =>
      set({}, s.agent?.resyncs ?? 0),
    );
    gauge('vxtun_lease_expiry_timestamp_seconds', "When this host's subnet lease expires unless renewed, Unix seconds", (s) =>
      s.agent?.lease ? Date.parse(s.agent.lease.expiresAt) / 1000 : null,
    );
    gauge('vxtun_registry_reachable', "Whether the registry answered the agent's last request or probe (1) or not (0)", (s) =>
      s.agent ? Number(s.agent.registry.connected) : null,
    );
  }
  return async () => {
    current = status();
    return { status: 200, body: await registry.metrics(), contentType: registry.contentType };
  };
}

/** `[host:]port` of --metrics-listen; a port alone listens on loopback. */
function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[^:]+):)?(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535)
    throw new VxtunError('VXTUN_ERR_CONFIG', `--metrics-listen "${v}": expected [host:]port, e.g. 9108 or 0.0.0.0:9108`);
  return { host: m[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port };
}

/**
 * The HTTP endpoint of --metrics-listen (none without it): the given /healthz and /readyz at once, /metrics
 * answering 503 until serveHost() has a dataplane to report.
 */
export async function startMetricsEndpoint(
  listen: string | undefined,
  health: Record<string, RouteHandler>,
  log: Logger,
): Promise<HttpEndpoint | undefined> {
  if (listen === undefined) return undefined;
  const notYet: RouteHandler = () => ({ status: 503, body: 'vxtun is starting: no dataplane to report yet\n' });
  return startHttpEndpoint({ ...parseListen(listen), routes: { ...health, '/metrics': notYet } }, log);
}

/**
 * The status socket for `vxtun status` (a warning when it cannot be created, e.g. without root). An agent opens it
 * at start, so a host still waiting for its registry can be asked what it waits for.
 */
export async function serveStatus(src: StatusSource, log: Logger): Promise<{ close(): Promise<void> }> {
  const startedAt = new Date().toISOString();
  try {
    return await serveStatusSocket(statusSocketPath(src.tunName), () => hostStatus(src, startedAt), log);
  } catch (err) {
    if ((err as VxtunError).code === 'VXTUN_ERR_TUN_IN_USE') throw err;
    log.warn({ err: (err as Error).message }, 'no status socket: vxtun status will not reach this host');
    return { close: async () => undefined };
  }
}

/** Once the dataplane runs: the real /metrics on `http` (the endpoint belongs to its creator). */
export function serveMetrics(src: StatusSource, http: HttpEndpoint | undefined): void {
  const startedAt = new Date().toISOString();
  http?.route(
    '/metrics',
    metricsRoute(() => hostStatus(src, startedAt), src.kind === 'agent'),
  );
}
