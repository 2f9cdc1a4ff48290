/**
 * An in-memory LeaseStore with etcd's semantics that matter to the lease policy: revisions, create-if-absent,
 * keys that vanish when their TTL runs out (on the timer clock, so tests drive it with fake timers), and watches.
 */
import type { LeaseChange, LeaseStore, LeaseWatchHandlers, StoredLease } from './store.js';
import { subnetKey } from './lease.js';
import type { Subnet4 } from './ip4.js';
import type { Subnet6 } from './ip6.js';

interface Entry {
  subnet: Subnet4;
  ipv6Subnet?: Subnet6;
  value: string;
  created: bigint;
  expiry: ReturnType<typeof setTimeout> | null;
}

export class MemoryLeaseStore implements LeaseStore {
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Set<LeaseWatchHandlers>();
  private rev = 1n;
  /** Set to make the next calls fail, as an unreachable registry would. */
  failing: Error | null = null;

  /** The value stored for a subnet, or undefined. */
  get(subnet: Subnet4, ipv6Subnet?: Subnet6): string | undefined {
    return this.entries.get(subnetKey(subnet, ipv6Subnet))?.value;
  }

  /** Every key held, in Flannel's spelling (`10.244.1.0-24&fc00:0:0:1::-64`). */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Writes a lease as another node would; ttlSeconds undefined = a reservation without TTL. */
  putOther(subnet: Subnet4, value: string, ttlSeconds?: number, ipv6Subnet?: Subnet6): void {
    this.write(subnet, value, ttlSeconds, ipv6Subnet);
  }

  async list(): Promise<{ leases: StoredLease[]; revision: bigint }> {
    this.check();
    return { leases: this.stored(), revision: this.rev };
  }

  async createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number | null> {
    this.check();
    if (this.entries.has(subnetKey(subnet, ipv6Subnet))) return null;
    this.write(subnet, value, ttlSeconds, ipv6Subnet);
    return ttlSeconds;
  }

  async update(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number> {
    this.check();
    this.write(subnet, value, ttlSeconds, ipv6Subnet);
    return ttlSeconds;
  }

  async delete(subnet: Subnet4, ipv6Subnet?: Subnet6): Promise<void> {
    this.check();
    this.remove(subnetKey(subnet, ipv6Subnet));
  }

  watch(h: LeaseWatchHandlers): { close(): void } {
    this.watchers.add(h);
    const leases = this.stored();
    queueMicrotask(() => {
      if (this.watchers.has(h)) h.snapshot(leases, this.rev);
    });
    return {
      close: () => {
        this.watchers.delete(h);
      },
    };
  }

  private stored(): StoredLease[] {
    return [...this.entries.values()].map(({ subnet, ipv6Subnet, value, created }) =>
      ipv6Subnet ? { subnet, ipv6Subnet, value, created } : { subnet, value, created },
    );
  }

  private check(): void {
    if (this.failing) throw this.failing;
  }

  private write(subnet: Subnet4, value: string, ttlSeconds: number | undefined, ipv6Subnet?: Subnet6): void {
    const key = subnetKey(subnet, ipv6Subnet);
    const old = this.entries.get(key);
    if (old?.expiry) clearTimeout(old.expiry);
    const expiry = ttlSeconds === undefined ? null : setTimeout(() => this.remove(key), ttlSeconds * 1000);
    // Like etcd's create_revision: the revision of the write that created the key, kept by later writes.
    const created = old?.created ?? this.rev + 1n;
    this.entries.set(key, { subnet, ipv6Subnet, value, created, expiry });
    this.emit({ type: 'put', lease: ipv6Subnet ? { subnet, ipv6Subnet, value, created } : { subnet, value, created } });
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.expiry) clearTimeout(e.expiry);
    this.entries.delete(key);
    this.emit(e.ipv6Subnet ? { type: 'delete', subnet: e.subnet, ipv6Subnet: e.ipv6Subnet } : { type: 'delete', subnet: e.subnet });
  }

  private emit(c: LeaseChange): void {
    this.rev++;
    for (const w of this.watchers) w.changes([c], this.rev);
  }
}
