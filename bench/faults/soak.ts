/**
 * The fault soak: the cases of the fault suite (bench/faults/cases.ts) at the full sizes, then the
 * README's fault table regenerated from the results. Needs root; takes several minutes.
 *   node dist/bench/faults/soak.js [--mb 200] [--hostile 1000000] [--reloads 50] [--tun-frames 10000]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../testbed/vxtun.js';
import {
  hostileDatagrams,
  IMPAIRMENTS,
  impairedTransfer,
  peerReloads,
  startFaultSuite,
  tunFrames,
  workerFailure,
  type FaultRow,
} from './cases.js';
import { writeFaultsTable, type FaultResults } from './table.js';

const MB = 1024 * 1024;
/** Kinds the hostile sender fires per round from the peer (12) plus one from the stranger. */
const HOSTILE_PER_ROUND = 13;

const opts = new Command('faults-soak')
  .option('--mb <n>', 'megabytes per transfer', (v) => Number(v), 200)
  .option('--hostile <n>', 'hostile datagrams in all', (v) => Number(v), 1_000_000)
  .option('--reloads <n>', 'peer reloads during one transfer', (v) => Number(v), 50)
  .option('--tun-frames <n>', 'rounds of hostile frames written into the TUN (3 kinds each)', (v) => Number(v), 10_000)
  .parse()
  .opts<{ mb: number; hostile: number; reloads: number; tunFrames: number }>();

const started = Date.now();
const rows: FaultRow[] = [];
const suite = await startFaultSuite();
try {
  for (const [fault, spec] of IMPAIRMENTS) {
    rows.push(...(await impairedTransfer(suite, fault, spec, opts.mb * MB)));
    console.error(`faults: ${fault} done`);
  }
  rows.push(await hostileDatagrams(suite, Math.ceil(opts.hostile / HOSTILE_PER_ROUND), opts.mb * MB));
  console.error('faults: hostile datagrams done');
  rows.push(await tunFrames(suite, opts.tunFrames, opts.mb * MB));
  rows.push(await peerReloads(suite, opts.reloads, opts.mb * MB));
  rows.push(await workerFailure(suite, opts.mb * MB));
} finally {
  await suite.destroy();
}
const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoRoot() }).toString().trim();
const results: FaultResults = {
  startedAt: new Date(started).toISOString(),
  commit,
  command: `node dist/bench/faults/soak.js --mb ${opts.mb} --hostile ${opts.hostile} --reloads ${opts.reloads} --tun-frames ${opts.tunFrames}`,
  machine: `Linux ${release()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`,
  durationS: (Date.now() - started) / 1000,
  rows: rows.map(({ fault, tunnel, checked, seen, passed }) => ({ fault, tunnel, checked, seen, passed })),
};
const file = join(repoRoot(), 'bench', 'results', `faults-${results.startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFaultsTable(file);
console.log(`wrote ${file} and the README's fault table; ${rows.filter((r) => !r.passed).length} of ${rows.length} rows failed`);
process.exitCode = rows.every((r) => r.passed) ? 0 : 1;
