/**
 * What the RSS soak (bench/rss-soak.ts) concludes from a forwarder's resident-size samples. Definitions:
 * - warm-up: the first min(60 s, a third of the run), while buffer pools, JIT code and the heap fill;
 * - the samples after it are split in two halves by time; early and late peak: the largest sample of each. A heap's
 *   RSS rises and falls by 10 % and more with each garbage collection, so single samples say little; a leak lifts
 *   the peaks;
 * - growth: (late peak − early peak) ÷ early peak; **flat** when it is under FLAT_GROWTH_PCT;
 * - slope: least-squares fit over the samples after the warm-up, in MB per minute (10⁶ bytes);
 * - within budget: the process's own peak (VmHWM, which also sees what falls between samples) ≤ RSS_BUDGET_MB.
 */
export const RSS_BUDGET_MB = 150;
export const FLAT_GROWTH_PCT = 5;
const MAX_WARMUP_S = 60;

export interface RssSample {
  /** Seconds since the forwarders were up. */
  readonly t: number;
  readonly mb: number;
}

export interface RssSummary {
  readonly startMb: number;
  /** The largest sample. */
  readonly peakMb: number;
  /** VmHWM at the end, when it could be read. */
  readonly hwmMb?: number;
  /** The largest sample in the first and in the second half after the warm-up. */
  readonly earlyPeakMb: number;
  readonly latePeakMb: number;
  readonly endMb: number;
  readonly growthPct: number;
  readonly slopeMbPerMin: number;
  readonly flat: boolean;
  readonly withinBudget: boolean;
}

export function warmupSeconds(durationS: number): number {
  return Math.min(MAX_WARMUP_S, durationS / 3);
}

export function summarizeRss(samples: readonly RssSample[], warmupS: number, hwmMb?: number): RssSummary {
  if (samples.length === 0) throw new Error('no RSS samples');
  const afterWarmup = samples.filter((s) => s.t >= warmupS);
  const steady = afterWarmup.length > 0 ? afterWarmup : samples.slice(-1);
  const middle = (steady[0].t + steady[steady.length - 1].t) / 2;
  const late = steady.filter((s) => s.t > middle);
  const earlyPeakMb = peak(steady.filter((s) => s.t <= middle));
  const latePeakMb = late.length > 0 ? peak(late) : earlyPeakMb;
  const growthPct = ((latePeakMb - earlyPeakMb) / earlyPeakMb) * 100;
  const peakMb = peak(samples);
  return {
    startMb: samples[0].mb,
    peakMb,
    ...(hwmMb === undefined ? {} : { hwmMb }),
    earlyPeakMb,
    latePeakMb,
    endMb: samples[samples.length - 1].mb,
    growthPct,
    slopeMbPerMin: slope(steady) * 60,
    flat: growthPct < FLAT_GROWTH_PCT,
    withinBudget: Math.max(peakMb, hwmMb ?? 0) <= RSS_BUDGET_MB,
  };
}

function peak(samples: readonly RssSample[]): number {
  return Math.max(...samples.map((s) => s.mb));
}

/** Least-squares slope of mb over t (MB per second); 0 with fewer than two samples. */
function slope(samples: readonly RssSample[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanT = samples.reduce((sum, s) => sum + s.t, 0) / n;
  const meanMb = samples.reduce((sum, s) => sum + s.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - meanT) * (s.mb - meanMb);
    den += (s.t - meanT) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
