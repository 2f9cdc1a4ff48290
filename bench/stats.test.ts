import { describe, expect, it } from 'vitest';
import { TARGETS, targetMet, type Target } from './catalog.js';
import { evaluateTargets, summarizeRuns, type RunRecord } from './result.js';
import { median, percentile, ratio, summarize } from './stats.js';

describe('medians and ratios', () => {
  it('takes the middle sample, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarises median and range, ignoring samples that are not finite', () => {
    expect(summarize([15.1, 14.2, Number.NaN, 16.0])).toEqual({ median: 15.1, min: 14.2, max: 16.0, n: 3 });
    expect(summarize([Number.NaN])).toBeUndefined();
  });

  it('divides medians, and gives no ratio without both or with a zero denominator', () => {
    const s = (m: number) => ({ median: m, min: m, max: m, n: 1 });
    expect(ratio(s(6), s(15))).toBeCloseTo(0.4, 12);
    expect(ratio(s(6), undefined)).toBeUndefined();
    expect(ratio(s(6), s(0))).toBeUndefined();
  });

  it('finds nearest-rank percentiles', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('targets', () => {
  const rule = (metric: Target['metric']): Target => {
    const target = TARGETS.find((t) => t.metric === metric);
    if (target === undefined) throw new Error(metric);
    return target;
  };

  it('judges each kind of rule at and around its bound', () => {
    expect(targetMet(rule('tcp1.ab'), 8, 10)).toBe(true);
    expect(targetMet(rule('tcp1.ab'), 7.99, 10)).toBe(false);
    expect(targetMet(rule('latency.p50'), 80, 60)).toBe(true);
    expect(targetMet(rule('latency.p50'), 80.5, 60)).toBe(false);
    expect(targetMet(rule('latency.p99'), 140, 90)).toBe(true);
    expect(targetMet(rule('cpu.perGB'), 1.0, 0.49)).toBe(false);
    expect(targetMet(rule('rss.peak'), 149, undefined)).toBe(true);
    expect(targetMet(rule('rss.peak'), 151, undefined)).toBe(false);
    expect(targetMet(rule('tcp1.ab'), 8, undefined)).toBeUndefined();
  });

  it('summarises interleaved runs per mode and evaluates the table from medians', () => {
    const runs: RunRecord[] = [];
    const kernel = [14, 15, 16];
    const vxtun = [6, 13, 12.5];
    for (let rep = 0; rep < 3; rep++) {
      runs.push({
        rep: rep + 1,
        mode: 'kernel-vxlan',
        samples: { 'tcp1.ab': kernel[rep], 'latency.p50': 60, 'udp64.loss': 0.1 },
        errors: {},
      });
      runs.push({ rep: rep + 1, mode: 'vxtun', samples: { 'tcp1.ab': vxtun[rep], 'latency.p50': 90, 'udp64.loss': 70 }, errors: {} });
    }
    const summary = summarizeRuns(runs, ['kernel-vxlan', 'vxtun']);
    const tcp = summary.find((s) => s.id === 'tcp1.ab');
    expect(tcp?.modes.vxtun).toEqual({ median: 12.5, min: 6, max: 13, n: 3 });
    expect(tcp?.ratio).toBeCloseTo(12.5 / 15, 12);
    expect(summary.find((s) => s.id === 'udp64.loss')?.ratio).toBeUndefined();
    const targets = evaluateTargets(summary);
    expect(targets.find((t) => t.metric === 'tcp1.ab')?.met).toBe(true);
    expect(targets.find((t) => t.metric === 'latency.p50')?.met).toBe(false);
    expect(targets.find((t) => t.metric === 'udp64.pps')?.met).toBeUndefined();
  });
});
