/** Retry delays for waiting on the registry: doubling from `minMs`, capped at `maxMs`, with jitter so hosts spread out. */
export interface BackoffOptions {
  minMs?: number;
  maxMs?: number;
  random?: () => number;
}

export const REGISTRY_BACKOFF = { minMs: 250, maxMs: 5000 } as const;

/** The delay before retry number `attempt` (0-based): 80–100 % of min(maxMs, minMs·2^attempt). */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const min = o.minMs ?? REGISTRY_BACKOFF.minMs;
  const max = o.maxMs ?? REGISTRY_BACKOFF.maxMs;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.8 + 0.2 * (o.random ?? Math.random)()));
}
