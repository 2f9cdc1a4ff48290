/**
 * How often a failed queue worker may be restarted: at most `max` times within `windowMs`, with a doubling
 * delay (100 ms, 200 ms, 400 ms, ...). A worker that keeps failing is a bug or a broken host: the dataplane
 * stops with VXTUN_ERR_WORKER instead of spinning.
 */
export class RestartBudget {
  private readonly max: number;
  private readonly windowMs: number;
  private times: number[] = [];

  constructor(max = 5, windowMs = 60_000) {
    this.max = max;
    this.windowMs = windowMs;
  }

  /** Records a failure at `now`; returns the delay before the restart, or -1 when the budget is spent. */
  next(now: number): number {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.max) return -1;
    this.times.push(now);
    return 100 * 2 ** (this.times.length - 1);
  }

  get recent(): number {
    return this.times.length;
  }
}
