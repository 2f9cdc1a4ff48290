/**
 * Registry benchmark: puts/s, ranges/s and watch fan-out latency, the embedded registry beside real etcd 3.4.23
 * in the same run. `npx tsc && node dist/bench/registry/run.js [--duration-ms 3000] [--concurrency 16]
 * [--watchers 1000] [--puts 20] [--reps 3]`; throughput is the median of the reps. Writes bench/results/registry-<timestamp>.json.
 */
import { execSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../../control/etcd/index.js';
import { compare, table, type ServerFigures } from './report.js';
import { startEmbeddedServer, startEtcdServer, type BenchServer } from './servers.js';
import { putThroughput, rangeThroughput, watchFanout, type Throughput } from './workloads.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    watchers: { type: 'string', default: '1000' },
    puts: { type: 'string', default: '20' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const cfg = {
  durationMs: Math.min(30_000, Number(values['duration-ms'])),
  concurrency: Math.min(256, Number(values.concurrency)),
  watchers: Math.min(5000, Number(values.watchers)),
  puts: Math.min(200, Number(values.puts)),
  reps: Math.min(9, Number(values.reps)),
};

interface Running {
  figures: ServerFigures;
  server?: BenchServer;
  client?: EtcdClient;
  puts: Throughput[];
  ranges: Throughput[];
}

async function open(name: string, start: () => Promise<BenchServer>): Promise<Running> {
  try {
    const server = await start();
    const client = new EtcdClient({ endpoints: [server.url], timeoutMs: 10_000 });
    return { figures: { server: name, version: server.version }, server, client, puts: [], ranges: [] };
  } catch (err) {
    return { figures: { server: name, version: 'n/a', error: (err as Error).message }, puts: [], ranges: [] };
  }
}

/** Runs `step` on every live server, recording the first failure as that server's error. */
async function each(servers: Running[], label: string, step: (r: Running, c: EtcdClient) => Promise<void>): Promise<void> {
  for (const r of servers) {
    if (r.client === undefined || r.figures.error !== undefined) continue;
    process.stderr.write(`${r.figures.server}: ${label}\n`);
    try {
      await step(r, r.client);
    } catch (err) {
      r.figures.error = `${label}: ${(err as Error).message}`;
    }
  }
}

const byMedian = (runs: Throughput[]): Throughput | undefined => [...runs].sort((a, b) => a.perSecond - b.perSecond)[runs.length >> 1];

const startedAt = new Date();
// Both servers stay up for the whole run and take turns, so drift in a shared machine's load hits both alike.
const servers = [await open('etcd', startEtcdServer), await open('embedded', startEmbeddedServer)];
try {
  for (let rep = 1; rep <= cfg.reps; rep++) {
    await each(servers, `puts (rep ${rep}/${cfg.reps})`, async (r, c) => {
      r.puts.push(await putThroughput(c, cfg.durationMs, cfg.concurrency));
    });
    await each(servers, `ranges (rep ${rep}/${cfg.reps})`, async (r, c) => {
      r.ranges.push(await rangeThroughput(c, cfg.durationMs, cfg.concurrency));
    });
  }
  await each(servers, `watch fan-out to ${cfg.watchers} watchers`, async (r, c) => {
    r.figures.fanout = await watchFanout(c, cfg.watchers, cfg.puts);
  });
} finally {
  for (const r of servers) {
    r.figures.puts = byMedian(r.puts);
    r.figures.ranges = byMedian(r.ranges);
    r.client?.close();
    await r.server?.stop();
  }
}
const [etcd, embedded] = servers.map((r) => r.figures);
const rows = compare(embedded, etcd);
process.stdout.write(`${table(rows, etcd.version)}\n`);
for (const f of [embedded, etcd]) if (f.error) process.stdout.write(`${f.server}: FAILED: ${f.error}\n`);

const commit = (() => {
  try {
    return execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const record = {
  schema: 1,
  benchmark: 'registry',
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  commit,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
  config: cfg,
  servers: { embedded, etcd },
  runs: { puts: servers.map((r) => r.puts), ranges: servers.map((r) => r.ranges) },
  rows,
};
await mkdir(values.out!, { recursive: true });
const file = `${values.out}/registry-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
await writeFile(file, `${JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
