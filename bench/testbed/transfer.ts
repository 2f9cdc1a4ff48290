/**
 * Checked transfers across an overlay with the shared traffic tools (bench/testbed/traffic): TCP bytes whose
 * sha256 both ends report, numbered UDP datagrams. Used by the namespace tests and the fault soak.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostName, Testbed } from './netns.js';
import { repoRoot } from './vxtun.js';

const TRAFFIC = join(repoRoot(), 'bench', 'testbed', 'traffic');

/** What the TCP source and sink report: bytes and their sha256. */
export interface TcpReport {
  bytes: number;
  sha256: string;
}

/** Pushes `bytes` random bytes over TCP from one host to an address on the other; returns both ends' reports. */
export async function tcpTransfer(
  tb: Testbed,
  from: HostName,
  to: HostName,
  dstAddr: string,
  bytes: number,
  port = 5201,
  timeoutMs = 90_000,
): Promise<{ sent: TcpReport; received: TcpReport }> {
  const bind = dstAddr.includes(':') ? '::' : '0.0.0.0';
  const sink = tb.spawn(to, ['node', join(TRAFFIC, 'tcp-sink.mjs'), bind, String(port), String(timeoutMs)]);
  const sinkOut = collect(sink.child);
  await waitFor(() => sinkOut.err().includes('listening'), 10_000, 'tcp-sink listening');
  const src = await tb.exec(from, ['node', join(TRAFFIC, 'tcp-source.mjs'), dstAddr, String(port), String(bytes), String(timeoutMs)], {
    timeoutMs: timeoutMs + 5_000,
  });
  await waitFor(() => sinkOut.out().includes('sha256'), timeoutMs, 'tcp-sink result');
  return { sent: JSON.parse(src.stdout.trim()), received: JSON.parse(sinkOut.out().trim()) };
}

/** Sends `count` UDP datagrams through the overlay; returns both ends' reports (the sink waits at most sinkTimeoutMs for all). */
export async function udpTransfer(
  tb: Testbed,
  from: HostName,
  to: HostName,
  dstAddr: string,
  count: number,
  size: number,
  port = 5300,
  sinkTimeoutMs = 15_000,
) {
  const bind = dstAddr.includes(':') ? '::' : '0.0.0.0';
  const sink = tb.spawn(to, ['node', join(TRAFFIC, 'udp-sink.mjs'), bind, String(port), String(count), String(sinkTimeoutMs)]);
  const sinkOut = collect(sink.child);
  await waitFor(() => sinkOut.err().includes('listening'), 10_000, 'udp-sink listening');
  const src = await tb.exec(from, ['node', join(TRAFFIC, 'udp-source.mjs'), dstAddr, String(port), String(count), String(size)], {
    timeoutMs: 30_000,
  });
  await waitFor(() => sinkOut.out().includes('sha256'), sinkTimeoutMs + 5_000, 'udp-sink result');
  return { sent: JSON.parse(src.stdout.trim()), received: JSON.parse(sinkOut.out().trim()) };
}

export function collect(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }) {
  let out = '',
    err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { out: () => out, err: () => err };
}

/** Polls cond every 50 ms; throws after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
