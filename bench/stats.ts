/** Median and range of one metric's repetitions. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** The median of the samples (mean of the middle two for an even count); NaN for no samples. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Summarises finite samples; undefined when there is none (the mode or metric failed every time). */
export function summarize(samples: readonly number[]): Summary | undefined {
  const finite = samples.filter((s) => Number.isFinite(s));
  if (finite.length === 0) return undefined;
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/** numerator / denominator of two medians; undefined when either is missing or the denominator is zero. */
export function ratio(numerator: Summary | undefined, denominator: Summary | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || denominator.median === 0) return undefined;
  return numerator.median / denominator.median;
}

/** The sample at percentile p (0..100), nearest-rank method; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((x, y) => x - y);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
