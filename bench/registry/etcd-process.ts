/**
 * Starts Debian's real etcd (3.4.23, /usr/bin/etcd) on loopback with a temporary data dir and free ports,
 * for tests and benchmarks that use it as the oracle. Stop it with `stop()` (kills the PID it started).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdProcess {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
  /** Stops etcd (SIGTERM) and starts it again on the same ports and data dir. */
  restart(): Promise<void>;
}

export interface EtcdProcessOptions {
  /** Extra etcd flags, e.g. ['--experimental-watch-progress-notify-interval', '1s']. */
  extraArgs?: string[];
  /** Serve clients over TLS with this certificate (its CA must be given to clients). */
  tls?: { certFile: string; keyFile: string; ca: Buffer };
  /** Join a cluster as this member (see startEtcdCluster); default: a one-member cluster on fresh ports. */
  member?: { name: string; clientPort: number; peerPort: number; initialCluster: string };
  /** How long to wait for /health before giving up. */
  startTimeoutMs?: number;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes remains). */
/** etcd's flags for one member of a new cluster, logging errors only (zap, stderr). */
export function etcdMemberArgs(m: { name: string; dataDir: string; clientUrl: string; peerUrl: string; initialCluster: string }): string[] {
  return [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientUrl,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    m.initialCluster,
    '--initial-cluster-state',
    'new',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--log-level',
    'error',
  ];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEtcd(opts: EtcdProcessOptions = {}): Promise<EtcdProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vxtun-etcd-'));
  const clientPort = opts.member?.clientPort ?? (await freePort());
  const peerPort = opts.member?.peerPort ?? (await freePort());
  const name = opts.member?.name ?? 'conformance';
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    ...etcdMemberArgs({ name, dataDir, clientUrl: url, peerUrl: peer, initialCluster: opts.member?.initialCluster ?? `${name}=${peer}` }),
    ...(opts.tls ? ['--cert-file', opts.tls.certFile, '--key-file', opts.tls.keyFile] : []),
    ...(opts.extraArgs ?? []),
  ];
  let child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const watchChild = (c: ChildProcess) => {
    c.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    return new Promise<void>((resolve) => c.once('exit', () => resolve()));
  };
  let exited = watchChild(child);
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const pid = child.pid;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const stop = async (): Promise<void> => {
    await kill();
    await rm(dataDir, { recursive: true, force: true });
  };
  const restart = async (): Promise<void> => {
    await kill();
    child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    exited = watchChild(child);
    await waitHealthy(url, child, opts.startTimeoutMs ?? 15_000, opts.tls?.ca);
  };
  try {
    await waitHealthy(url, child, opts.startTimeoutMs ?? 15_000, opts.tls?.ca);
  } catch (err) {
    await stop();
    throw new Error(`etcd did not become healthy: ${(err as Error).message}\n${stderr}`);
  }
  return {
    url,
    port: clientPort,
    get pid() {
      return child.pid ?? -1;
    },
    dataDir,
    stop,
    restart,
  };
}

/** A real etcd cluster of `size` members on loopback; members start together because health needs a quorum. */
export async function startEtcdCluster(size: number): Promise<EtcdProcess[]> {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = ports.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
  const started = await Promise.allSettled(ports.map((p) => startEtcd({ member: { ...p, initialCluster } })));
  const members = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(members.map((m) => m.stop()));
    throw failed.reason;
  }
  return members;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, ca?: Buffer): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}`);
    try {
      if ((await health(`${url}/health`, ca)) === 'true') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no healthy answer from ${url}/health within ${timeoutMs} ms`);
}

function health(url: string, ca?: Buffer): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { ca, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { health?: string }).health);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
