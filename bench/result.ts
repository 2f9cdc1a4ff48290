import { METRICS, TARGETS, describeTarget, metricInfo, targetMet, type MetricId } from './catalog.js';
import type { ModeName } from './modes.js';
import { ratio, summarize, type Summary } from './stats.js';

/** One mode in one repetition. `error` is set when the mode could not be set up at all. */
export interface RunRecord {
  readonly rep: number;
  readonly mode: ModeName;
  readonly error?: string;
  readonly samples: Partial<Record<MetricId, number>>;
  readonly errors: Partial<Record<MetricId, string>>;
}

export interface MetricSummary {
  readonly id: MetricId;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly modes: Partial<Record<ModeName, Summary>>;
  /** vxtun median / kernel-vxlan median. */
  readonly ratio?: number;
}

export interface TargetResult {
  readonly metric: MetricId;
  readonly label: string;
  readonly rule: string;
  readonly vxtun?: number;
  readonly kernel?: number;
  /** true / false, or undefined when it could not be judged (a mode or metric is missing). */
  readonly met?: boolean;
}

export interface BenchResult {
  readonly schema: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly commit: string;
  /** Uncommitted changes to tracked files when the run started. */
  readonly dirty: boolean;
  readonly machine: {
    kernel: string;
    cpus: number;
    cpuModel: string;
    node: string;
    /** 1/5/15-minute load averages when the run started and ended. */
    loadAverage?: { start: number[]; end: number[] };
  };
  readonly options: Record<string, unknown>;
  readonly testbed: {
    readonly underlayMtu: number;
    readonly overlayMtu: number;
    readonly profile: string;
    /** The hosts' TCP congestion control (net.ipv4.tcp_congestion_control): it decides what TCP does with loss. */
    readonly tcpCongestionControl?: string;
    /** The WAN between the hosts, how it was made, and what its relay counted (relayed, loss, queueFull, sendFailed). */
    readonly wan?: { delayMs: number; lossPct: number; method: string; relay?: Record<string, number> };
    readonly offloads: Record<string, Record<string, string>>;
  };
  readonly modes: readonly ModeName[];
  /** What ran in each userspace peer mode (tool, version, whether it encrypted), from its first set-up. */
  readonly modeDetails?: Partial<Record<ModeName, string>>;
  readonly runs: readonly RunRecord[];
  readonly summary: readonly MetricSummary[];
  readonly targets: readonly TargetResult[];
  /** Why a mode or metric produced nothing, one line per distinct reason. */
  readonly failures: readonly string[];
}

export function summarizeRuns(runs: readonly RunRecord[], modes: readonly ModeName[]): MetricSummary[] {
  const out: MetricSummary[] = [];
  for (const info of METRICS) {
    const perMode: Partial<Record<ModeName, Summary>> = {};
    for (const mode of modes) {
      const samples = runs.filter((r) => r.mode === mode).map((r) => r.samples[info.id]);
      const summary = summarize(samples.filter((s): s is number => s !== undefined));
      if (summary !== undefined) perMode[mode] = summary;
    }
    if (Object.keys(perMode).length === 0) continue;
    const r = info.noRatio === true ? undefined : ratio(perMode.vxtun, perMode['kernel-vxlan']);
    out.push({
      id: info.id,
      label: info.label,
      unit: info.unit,
      better: info.better,
      modes: perMode,
      ...(r === undefined ? {} : { ratio: r }),
    });
  }
  return out;
}

export function evaluateTargets(summary: readonly MetricSummary[]): TargetResult[] {
  return TARGETS.map((target) => {
    const row = summary.find((s) => s.id === target.metric);
    const vxtun = row?.modes.vxtun?.median;
    const kernel = row?.modes['kernel-vxlan']?.median;
    const met = targetMet(target, vxtun, kernel);
    return {
      metric: target.metric,
      label: metricInfo(target.metric).label,
      rule: describeTarget(target),
      ...(vxtun === undefined ? {} : { vxtun }),
      ...(kernel === undefined ? {} : { kernel }),
      ...(met === undefined ? {} : { met }),
    };
  });
}

export function collectFailures(runs: readonly RunRecord[]): string[] {
  const lines = new Set<string>();
  for (const run of runs) {
    if (run.error !== undefined) lines.add(`${run.mode}: ${run.error}`);
    for (const [id, reason] of Object.entries(run.errors)) lines.add(`${run.mode} ${id}: ${reason}`);
  }
  return [...lines];
}
