import { describe, expect, it } from 'vitest';
import { summarizeRss, warmupSeconds } from './rss.js';

const series = (mbs: readonly number[], every = 5) => mbs.map((mb, i) => ({ t: i * every, mb }));

describe('RSS soak verdict', () => {
  it('ignores the warm-up: a forwarder that fills its pools in the first minute and then holds is flat', () => {
    const s = summarizeRss(series([60, 90, 100, 104, 106, 108, 110, 110, 111, 110, 111, 110, 111, 112, 111, 112]), 60);
    expect(s.startMb).toBe(60);
    expect(s.earlyPeakMb).toBe(112); // t = 60..65 s
    expect(s.latePeakMb).toBe(112); // t = 70..75 s
    expect(s.flat).toBe(true);
    expect(s.withinBudget).toBe(true);
  });

  it('is not fooled by garbage collection: RSS that falls and climbs back between collections is flat', () => {
    // A real 60 s run of host a (5 s samples): down 16 MB after a collection, then back up to 101.
    const s = summarizeRss(series([105.8, 111.3, 95.2, 93.4, 93.7, 94.1, 93.4, 99.1, 100.3, 100.4, 101.6, 101.2, 101.3]), 20);
    expect(s.growthPct).toBeCloseTo(((101.6 - 100.3) / 100.3) * 100, 5);
    expect(s.flat).toBe(true);
  });

  it('calls 5 % or more growth after the warm-up growing, with its slope per minute', () => {
    const mbs = Array.from({ length: 61 }, (_, i) => 100 + (i >= 12 ? (i - 12) * 0.5 : 0));
    const s = summarizeRss(series(mbs), 60);
    // Early half (t = 60..180 s) peaks at 112, late half at 124.
    expect(s.growthPct).toBeCloseTo(((124 - 112) / 112) * 100, 5);
    expect(s.flat).toBe(false);
    expect(s.slopeMbPerMin).toBeCloseTo(6, 5);
  });

  it('judges the budget on the process peak (VmHWM), which sees what falls between samples', () => {
    expect(summarizeRss(series([100, 120, 120]), 0).withinBudget).toBe(true);
    expect(summarizeRss(series([100, 120, 120]), 0, 151).withinBudget).toBe(false);
  });

  it('uses a third of a short run as its warm-up, at most a minute', () => {
    expect(warmupSeconds(30)).toBe(10);
    expect(warmupSeconds(300)).toBe(60);
  });
});
