/**
 * Shared pieces of the namespace integration tests: a two-host testbed (bench/testbed), vxtun launched with a
 * config the test writes (bench/testbed's launcher), and traffic tools run inside the namespaces.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchStatic, writeStaticConfig, type FinalStats, type HostName, type RunningVxtun, type Testbed } from '../../bench/testbed/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/control/cli.js');

export const isRoot = process.getuid?.() === 0;

export type VxtunProc = RunningVxtun;
export type { FinalStats };

/** Starts `vxtun static` in a namespace with the given config object (state dir: a fresh one unless given). */
export async function startStatic(tb: Testbed, host: HostName, config: object, extraArgs: string[] = []): Promise<VxtunProc> {
  const dir = mkdtempSync(join(tmpdir(), `vxtun-test-${tb.prefix}${host}-`));
  const file = join(dir, 'config.json');
  writeStaticConfig(file, { stateDir: join(dir, 'state'), ...config });
  return launchStatic(tb, host, file, { extraArgs, ownedDir: dir });
}

/** A traffic tool: the shared ones in bench/testbed/traffic (also used by the demo), test-only ones in test/netns/tools. */
export function tool(name: string): string {
  const shared = join(ROOT, 'bench/testbed/traffic', name);
  return existsSync(shared) ? shared : join(ROOT, 'test/netns/tools', name);
}

/** Pushes `bytes` random bytes over TCP from one host to an address on the other; returns both ends' reports. */
export async function tcpTransfer(tb: Testbed, from: HostName, to: HostName, dstAddr: string, bytes: number, port = 5201, timeoutMs = 90_000) {
  const bind = dstAddr.includes(':') ? '::' : '0.0.0.0';
  const sink = tb.spawn(to, ['node', tool('tcp-sink.mjs'), bind, String(port), String(timeoutMs)]);
  const sinkOut = collect(sink.child);
  await waitFor(() => sinkOut.err().includes('listening'), 10_000, 'tcp-sink listening');
  const src = await tb.exec(from, ['node', tool('tcp-source.mjs'), dstAddr, String(port), String(bytes), String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 });
  await waitFor(() => sinkOut.out().includes('sha256'), timeoutMs, 'tcp-sink result');
  return { sent: JSON.parse(src.stdout.trim()), received: JSON.parse(sinkOut.out().trim()) };
}

/** Sends `count` UDP datagrams through the overlay; returns both ends' reports (the sink waits at most sinkTimeoutMs for all). */
export async function udpTransfer(tb: Testbed, from: HostName, to: HostName, dstAddr: string, count: number, size: number, port = 5300, sinkTimeoutMs = 15_000) {
  const bind = dstAddr.includes(':') ? '::' : '0.0.0.0';
  const sink = tb.spawn(to, ['node', tool('udp-sink.mjs'), bind, String(port), String(count), String(sinkTimeoutMs)]);
  const sinkOut = collect(sink.child);
  await waitFor(() => sinkOut.err().includes('listening'), 10_000, 'udp-sink listening');
  const src = await tb.exec(from, ['node', tool('udp-source.mjs'), dstAddr, String(port), String(count), String(size)], { timeoutMs: 30_000 });
  await waitFor(() => sinkOut.out().includes('sha256'), 20_000, 'udp-sink result');
  return { sent: JSON.parse(src.stdout.trim()), received: JSON.parse(sinkOut.out().trim()) };
}

export function collect(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }) {
  let out = '', err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  return { out: () => out, err: () => err };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** ping -c N; returns the number of replies. */
export async function ping(tb: Testbed, from: HostName, addr: string, count = 3): Promise<number> {
  const r = await tb.exec(from, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', addr], { timeoutMs: 20_000, allowFail: true });
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}
