/**
 * The two servers under test, each in its own process so the benchmark client never shares an event loop with
 * a server: real etcd 3.4.23 and the embedded registry (run by embedded-child.js).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEtcd } from './etcd-process.js';

export interface BenchServer {
  name: string;
  url: string;
  version: string;
  stop(): Promise<void>;
}

export async function startEtcdServer(): Promise<BenchServer> {
  const p = await startEtcd();
  const v = (await (await fetch(`${p.url}/version`)).json()) as { etcdserver: string };
  return { name: 'etcd', url: p.url, version: `etcd ${v.etcdserver}`, stop: p.stop };
}

export async function startEmbeddedServer(timeoutMs = 15_000): Promise<BenchServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vxtun-bench-registry-'));
  const entry = join(dirname(fileURLToPath(import.meta.url)), 'embedded-child.js');
  const child = spawn(process.execPath, [entry, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(t);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded registry did not start within ${timeoutMs} ms`)), timeoutMs);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`embedded registry exited: ${stderr.trim()}`));
    });
  }).catch(async (err: Error) => {
    await stop();
    throw err;
  });
  return { name: 'embedded', url, version: 'vxtun embedded registry', stop };
}
