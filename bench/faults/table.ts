/**
 * The README's fault table, regenerated from a soak's results (bench/results/faults-*.json, the newest unless a
 * file is given): `node dist/bench/faults/table.js [results.json]`. bench/faults/soak.ts calls it after a run.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../testbed/vxtun.js';
import type { FaultRow } from './cases.js';

export interface FaultResults {
  startedAt: string;
  commit: string;
  command: string;
  machine: string;
  durationS: number;
  rows: FaultRow[];
}

const START = '<!-- faults:start -->';
const END = '<!-- faults:end -->';

function faultsTable(r: FaultResults): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `Soak of ${r.startedAt} (commit \`${r.commit}\`, ${r.machine}, ${Math.round(r.durationS)} s): \`${r.command}\`.`,
    '',
    '| fault | tunnel | what was checked | what was seen | result |',
    '|---|---|---|---|---|',
    ...r.rows.map(
      (row) => `| ${cell(row.fault)} | ${row.tunnel} | ${cell(row.checked)} | ${cell(row.seen)} | ${row.passed ? 'pass' : '**FAIL**'} |`,
    ),
  ].join('\n');
}

/** Replaces the README's table between the faults markers; returns the results file used. */
export function writeFaultsTable(file?: string): string {
  const dir = join(repoRoot(), 'bench', 'results');
  const chosen =
    file ??
    join(
      dir,
      readdirSync(dir)
        .filter((f) => /^faults-.*\.json$/.test(f))
        .sort()
        .pop() ?? '',
    );
  const results = JSON.parse(readFileSync(chosen, 'utf8')) as FaultResults;
  const readmePath = join(repoRoot(), 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const [before, rest] = readme.split(START);
  const after = rest?.split(END)[1];
  if (after === undefined) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  writeFileSync(readmePath, `${before}${START}\n${faultsTable(results)}\n${END}${after}`);
  return chosen;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`README.md fault table written from ${writeFaultsTable(process.argv[2])}`);
}
