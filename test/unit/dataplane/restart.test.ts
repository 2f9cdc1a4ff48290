import { describe, expect, it } from 'vitest';
import { RestartBudget } from '../../../dataplane/restart.js';

describe('worker restart budget', () => {
  it('backs off 100, 200, 400 ms and gives up after 5 failures within a minute', () => {
    const b = new RestartBudget(5, 60_000);
    expect([0, 1, 2, 3, 4].map((i) => b.next(1000 + i))).toEqual([100, 200, 400, 800, 1600]);
    expect(b.next(2000)).toBe(-1);
  });
  it('forgets failures older than the window', () => {
    const b = new RestartBudget(2, 10_000);
    expect(b.next(0)).toBe(100);
    expect(b.next(1)).toBe(200);
    expect(b.next(2)).toBe(-1);
    expect(b.next(10_000)).toBe(200); // the failure at t=1 still counts, the one at t=0 does not
  });
});
