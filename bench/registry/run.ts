/**
 * Registry benchmark: puts/s, ranges/s and watch fan-out latency, the embedded registry beside real etcd 3.4.23
 * in the same run. `npx tsc && node dist/bench/registry/run.js [--duration-ms 3000] [--concurrency 16]
 * [--watchers 1000] [--puts 20]`. Writes bench/results/registry-<timestamp>.json.
 */
import { execSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../../control/etcd/index.js';
import { compare, table, type ServerFigures } from './report.js';
import { startEmbeddedServer, startEtcdServer, type BenchServer } from './servers.js';
import { putThroughput, rangeThroughput, watchFanout } from './workloads.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    watchers: { type: 'string', default: '1000' },
    puts: { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const cfg = {
  durationMs: Math.min(30_000, Number(values['duration-ms'])),
  concurrency: Math.min(256, Number(values.concurrency)),
  watchers: Math.min(5000, Number(values.watchers)),
  puts: Math.min(200, Number(values.puts)),
};

async function measure(name: string, start: () => Promise<BenchServer>): Promise<ServerFigures> {
  let server: BenchServer | undefined;
  const client = () => new EtcdClient({ endpoints: [server!.url], timeoutMs: 10_000 });
  try {
    server = await start();
    const f: ServerFigures = { server: name, version: server.version };
    const c = client();
    try {
      process.stderr.write(`${name}: puts...\n`);
      f.puts = await putThroughput(c, cfg.durationMs, cfg.concurrency);
      process.stderr.write(`${name}: ranges...\n`);
      f.ranges = await rangeThroughput(c, cfg.durationMs, cfg.concurrency);
      process.stderr.write(`${name}: watch fan-out to ${cfg.watchers}...\n`);
      f.fanout = await watchFanout(c, cfg.watchers, cfg.puts);
    } finally {
      c.close();
    }
    return f;
  } catch (err) {
    return { server: name, version: server?.version ?? 'n/a', error: (err as Error).message };
  } finally {
    await server?.stop();
  }
}

const startedAt = new Date();
const etcd = await measure('etcd', startEtcdServer);
const embedded = await measure('embedded', startEmbeddedServer);
const rows = compare(embedded, etcd);
process.stdout.write(`${table(rows, etcd.version)}\n`);
for (const f of [embedded, etcd]) if (f.error) process.stdout.write(`${f.server}: FAILED: ${f.error}\n`);

const commit = (() => { try { return execSync('git rev-parse HEAD', { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
const record = {
  schema: 1, benchmark: 'registry', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), commit,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
  config: cfg, servers: { embedded, etcd }, rows,
};
await mkdir(values.out!, { recursive: true });
const file = `${values.out}/registry-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
await writeFile(file, `${JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
