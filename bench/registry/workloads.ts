/**
 * The registry workloads, each bounded in time and count: closed-loop puts and ranges with a fixed number of
 * requests in flight, and watch fan-out (one put, many watchers, latency from the put to each delivery).
 */
import { performance } from 'node:perf_hooks';
import { EtcdClient } from '../../control/etcd/index.js';
import { percentile } from '../stats.js';

export interface Throughput {
  ops: number;
  seconds: number;
  perSecond: number;
  errors: number;
}

/** Runs `op` with `concurrency` requests in flight for `durationMs` (and at most `maxOps`). */
export async function closedLoop(
  op: (i: number) => Promise<unknown>,
  durationMs: number,
  concurrency: number,
  maxOps = 1_000_000,
): Promise<Throughput> {
  let next = 0;
  let done = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + durationMs;
  const lane = async (): Promise<void> => {
    while (performance.now() < end && next < maxOps) {
      const i = next++;
      try {
        await op(i);
        done++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - start) / 1000;
  return { ops: done, seconds, perSecond: done / seconds, errors };
}

export function putThroughput(client: EtcdClient, durationMs: number, concurrency: number): Promise<Throughput> {
  const tag = Math.random().toString(16).slice(2, 8);
  // Unique values, a bounded key set (1,000 keys), Flannel-lease-sized values.
  return closedLoop(
    (i) => client.put(`/bench/${tag}/k${i % 1000}`, `{"PublicIP":"10.0.${i & 255}.1","seq":${i}}`),
    durationMs,
    concurrency,
  );
}

export async function rangeThroughput(client: EtcdClient, durationMs: number, concurrency: number): Promise<Throughput> {
  const tag = Math.random().toString(16).slice(2, 8);
  for (let i = 0; i < 100; i++) await client.put(`/bench/${tag}/r${i}`, `value-${i}`);
  return closedLoop((i) => client.range(`/bench/${tag}/r${i % 100}`), durationMs, concurrency);
}

export interface Fanout {
  watchers: number;
  puts: number;
  deliveries: number;
  missed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  setupSeconds: number;
}

/**
 * Opens `watchers` watches on one key (each its own HTTP stream), then does `puts` sequential puts; for each put it
 * waits until every watcher has the event (at most `perPutTimeoutMs`) and records put-start -> delivery latency.
 */
export async function watchFanout(client: EtcdClient, watchers: number, puts: number, perPutTimeoutMs = 5000): Promise<Fanout> {
  const key = `/bench/fanout-${Math.random().toString(16).slice(2, 8)}`;
  // Puts are sequential and only this benchmark writes the key, so every delivery during a round is that round's put.
  let round: number[] = [];
  const t0 = performance.now();
  const ws = Array.from({ length: watchers }, () =>
    client.watch(key, {}, (events) => {
      const now = performance.now();
      for (let i = 0; i < events.length; i++) round.push(now);
    }),
  );
  try {
    await Promise.all(ws.map((w) => w.ready));
    const setupSeconds = (performance.now() - t0) / 1000;
    const latencies: number[] = [];
    let missed = 0;
    for (let i = 0; i < puts; i++) {
      round = [];
      const start = performance.now();
      await client.put(key, `v${i}`);
      const deadline = start + perPutTimeoutMs;
      while (round.length < watchers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      for (const at of round) latencies.push(at - start);
      missed += Math.max(0, watchers - round.length);
    }
    return {
      watchers,
      puts,
      deliveries: latencies.length,
      missed,
      setupSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.reduce((a, b) => Math.max(a, b), 0),
    };
  } finally {
    for (const w of ws) w.close();
  }
}
