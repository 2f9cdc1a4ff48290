/**
 * The servers the conformance suite runs against. Each target says which known server bugs it has, so a test
 * that meets one asserts (and names) the bug instead of silently skipping.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startEtcd } from '../../bench/registry/etcd-process.js';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same data. */
  restart(): Promise<void>;
}

/** Watch progress notifications every 500 ms instead of etcd's 10 min, so the suite can see them. */
export const PROGRESS_INTERVAL_MS = 500;

export interface Target {
  name: string;
  start(): Promise<RunningServer>;
  /** etcd #18089/#19179 (fixed 3.4.36/3.5.18): a watch opened at the compaction revision misses that revision's DELETE. */
  dropsDeleteAtCompactRevision: boolean;
}

export const etcd3423: Target = {
  name: 'etcd 3.4.23 (Debian etcd-server)',
  start: () => startEtcd({ extraArgs: ['--experimental-watch-progress-notify-interval', `${PROGRESS_INTERVAL_MS}ms`] }),
  dropsDeleteAtCompactRevision: true,
};

/** The embedded registry, started in this process on a free loopback port with a temporary data dir. */
export const embedded: Target = {
  name: 'embedded registry',
  async start() {
    const dataDir = await mkdtemp(join(tmpdir(), 'vxtun-registry-'));
    const { startRegistry } = await import('../../control/registry/server.js');
    const logger = pino({ level: 'error' }, pino.destination(2));
    let reg = await startRegistry({ listen: '127.0.0.1:0', dataDir, logger, progressIntervalMs: PROGRESS_INTERVAL_MS });
    const port = reg.port;
    return {
      url: reg.url,
      async stop() {
        await reg.close();
        await rm(dataDir, { recursive: true, force: true });
      },
      async restart() {
        await reg.close();
        reg = await startRegistry({ listen: `127.0.0.1:${port}`, dataDir, logger, progressIntervalMs: PROGRESS_INTERVAL_MS });
      },
    };
  },
  dropsDeleteAtCompactRevision: false,
};

/** A key prefix no other test uses. */
export function uniquePrefix(tag: string): string {
  return `/conformance/${tag}-${Math.random().toString(16).slice(2, 10)}/`;
}

/** Polls cond every 20 ms until it holds or `ms` pass; the caller's expect says what was awaited. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
