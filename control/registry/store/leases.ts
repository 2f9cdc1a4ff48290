import { randomBytes } from 'node:crypto';

/** etcd's defaults: minimum TTL = 1.5 x election timeout (1 s) rounded up, maximum 9e9 s. */
export const MIN_LEASE_TTL = 2;
export const MAX_LEASE_TTL = 9_000_000_000;

export interface Lease {
  id: string;
  /** The TTL the lease was granted with (after raising to the minimum). */
  ttl: number;
  /** Monotonic milliseconds at which the lease expires. */
  deadline: number;
  /** Ids (latin1) of the keys attached to the lease. */
  keys: Set<string>;
}

/** Lease table. Time comes from `now` (monotonic ms) so tests can drive expiry. */
export class Leases {
  private readonly table = new Map<string, Lease>();
  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.table.size;
  }
  get(id: string): Lease | undefined {
    return this.table.get(id);
  }
  all(): IterableIterator<Lease> {
    return this.table.values();
  }

  /** A fresh random positive int64 ID, as etcd hands out. */
  newId(): string {
    for (;;) {
      const id = (randomBytes(8).readBigUInt64BE() >> 1n).toString();
      if (id !== '0' && !this.table.has(id)) return id;
    }
  }

  /** Adds a lease with its expiry armed at the full TTL (also on recovery, as etcd does after a restart). */
  add(id: string, ttl: number): Lease {
    const lease: Lease = { id, ttl, deadline: this.now() + ttl * 1000, keys: new Set() };
    this.table.set(id, lease);
    return lease;
  }

  remove(id: string): Lease | undefined {
    const lease = this.table.get(id);
    this.table.delete(id);
    return lease;
  }

  /** Seconds left, truncated like etcd's Remaining().Seconds(); <= 0 once expired. */
  remaining(lease: Lease): number {
    return Math.trunc((lease.deadline - this.now()) / 1000);
  }

  isExpired(lease: Lease): boolean {
    return lease.deadline <= this.now();
  }

  renew(lease: Lease): void {
    lease.deadline = this.now() + lease.ttl * 1000;
  }

  expired(): Lease[] {
    const t = this.now();
    const out: Lease[] = [];
    for (const l of this.table.values()) if (l.deadline <= t) out.push(l);
    return out;
  }

  attach(id: string, key: string): void {
    if (id !== '0') this.table.get(id)?.keys.add(key);
  }
  detach(id: string, key: string): void {
    if (id !== '0') this.table.get(id)?.keys.delete(key);
  }
}

export function grantTtl(requested: number): number {
  return Math.max(requested, MIN_LEASE_TTL);
}
