import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { VxtunError } from '../dataplane/errors.js';
import { METRIC_GROUPS, type MetricGroup } from './catalog.js';
import { MODE_NAMES, type ModeName } from './modes.js';
import type { BenchOptions } from './runner.js';
import { OFFLOAD_PROFILES, type OffloadProfile } from './testbed/offloads.js';
import { MAX_WAN_DELAY_MS, type WanOptions } from './testbed/wan.js';
import { repoRoot } from './testbed/vxtun.js';

/** `--quick`: two repetitions of 2-second measurements; all six modes finish in about five minutes. */
export const QUICK = { durationS: 2, repetitions: 2 } as const;

export interface CliBenchOptions extends BenchOptions {
  readonly outDir: string;
}

interface RawOptions {
  duration: string;
  repetitions: string;
  modes: string;
  metrics: string;
  mtu: string;
  profile: string;
  wan?: string;
  quick?: boolean;
  out?: string;
  vxtunWorkers?: string;
}

export function addBenchOptions(cmd: Command): Command {
  return cmd
    .option('--duration <seconds>', 'seconds per measurement', '10')
    .option('--repetitions <n>', 'repetitions of every mode (interleaved)', '3')
    .option('--modes <list>', `comma-separated modes: ${MODE_NAMES.join(',')}`, MODE_NAMES.join(','))
    .option('--metrics <list>', `comma-separated metrics: ${METRIC_GROUPS.join(',')}`, METRIC_GROUPS.join(','))
    .option('--mtu <bytes>', 'underlay (veth) MTU', '1500')
    .addOption(new Option('--profile <name>', 'veth offload profile').choices([...OFFLOAD_PROFILES]).default('default'))
    .option('--wan <spec>', 'a WAN between the hosts, each way, e.g. delay=10ms,loss=0.5% (made by a userspace relay: see bench/README.md)')
    .option('--vxtun-workers <n>', 'queue workers per vxtun host (default: one per core)')
    .option('--quick', `short preset: ${QUICK.repetitions} repetitions × ${QUICK.durationS} s (about 5 minutes for every mode)`)
    .option('--out <dir>', 'where to write <timestamp>.json/.md/.svg (default: bench/results)');
}

/** Validates what commander parsed; --quick only changes values the user did not give. */
export function resolveBenchOptions(raw: RawOptions, isDefault: (name: string) => boolean): CliBenchOptions {
  const quick = raw.quick === true;
  const durationS = quick && isDefault('duration') ? QUICK.durationS : positiveInt(raw.duration, '--duration', 1, 3600);
  const repetitions = quick && isDefault('repetitions') ? QUICK.repetitions : positiveInt(raw.repetitions, '--repetitions', 1, 100);
  return {
    durationS,
    repetitions,
    modes: list(raw.modes, MODE_NAMES, '--modes') as ModeName[],
    metrics: list(raw.metrics, METRIC_GROUPS, '--metrics') as MetricGroup[],
    mtu: positiveInt(raw.mtu, '--mtu', 1280, 9000),
    profile: raw.profile as OffloadProfile,
    ...(raw.wan === undefined ? {} : { wan: parseWan(raw.wan) }),
    ...(raw.vxtunWorkers === undefined ? {} : { vxtunWorkers: positiveInt(raw.vxtunWorkers, '--vxtun-workers', 1, 64) }),
    outDir: raw.out ?? join(repoRoot(), 'bench', 'results'),
  };
}

function positiveInt(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function list(value: string, allowed: readonly string[], flag: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = items.filter((item) => !allowed.includes(item));
  if (items.length === 0 || unknown.length > 0) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${flag} takes a comma-separated list of ${allowed.join(', ')}; ` + `got "${value}"`);
  }
  // Keep the canonical order so tables and charts always list modes the same way.
  return allowed.filter((a) => items.includes(a));
}

/** `delay=10ms,loss=0.5%` → { delayMs: 10, lossPct: 0.5 }; either part may be left out (0). */
export function parseWan(spec: string): WanOptions {
  let delayMs = 0;
  let lossPct = 0;
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const match = /^(delay|loss)=([\d.]+)(ms|%)?$/.exec(part);
    const value = match === null ? Number.NaN : Number(match[2]);
    if (match === null || !Number.isFinite(value) || value > (match[1] === 'loss' ? 100 : MAX_WAN_DELAY_MS)) {
      throw new VxtunError(
        'VXTUN_ERR_CONFIG',
        `--wan takes delay=<ms>,loss=<percent> (e.g. delay=10ms,loss=0.5%; delay at most ${MAX_WAN_DELAY_MS} ms, ` +
          `loss at most 100 %); cannot read "${part}"`,
      );
    }
    if (match[1] === 'delay') delayMs = value;
    else lossPct = value;
  }
  return { delayMs, lossPct };
}
