/**
 * Starts Debian's real etcd (3.4.23, /usr/bin/etcd) on loopback with a temporary data dir and free ports,
 * for tests and benchmarks that use it as the oracle. Stop it with `stop()` (kills the PID it started).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
  /** How long to wait for /health before giving up. */
  startTimeoutMs?: number;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes remains). */
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
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'conformance', '--data-dir', dataDir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `conformance=${peer}`, '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error',
    ...(opts.extraArgs ?? []),
  ];
  let child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const watchChild = (c: ChildProcess) => {
    c.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    return new Promise<void>((resolve) => c.once('exit', () => resolve()));
  };
  let exited = watchChild(child);
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const pid = child.pid;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL'); }, 3000);
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
    await waitHealthy(url, child, opts.startTimeoutMs ?? 15_000);
  };
  try {
    await waitHealthy(url, child, opts.startTimeoutMs ?? 15_000);
  } catch (err) {
    await stop();
    throw new Error(`etcd did not become healthy: ${(err as Error).message}\n${stderr}`);
  }
  return { url, port: clientPort, get pid() { return child.pid ?? -1; }, dataDir, stop, restart };
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no healthy answer from ${url}/health within ${timeoutMs} ms`);
}
