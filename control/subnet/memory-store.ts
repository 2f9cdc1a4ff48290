/**
 * An in-memory LeaseStore with etcd's semantics that matter to the lease policy: revisions, create-if-absent,
 * keys that vanish when their TTL runs out (on the timer clock, so tests drive it with fake timers), and watches.
 */
import type { LeaseChange, LeaseStore, LeaseWatchHandlers, StoredLease } from './store.js';
import { subnetKey } from './lease.js';
import type { Subnet4 } from './ip4.js';

interface Entry { subnet: Subnet4; value: string; expiry: ReturnType<typeof setTimeout> | null }

export class MemoryLeaseStore implements LeaseStore {
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Set<LeaseWatchHandlers>();
  private rev = 1n;
  /** Set to make the next calls fail, as an unreachable registry would. */
  failing: Error | null = null;

  /** The value stored for a subnet, or undefined. */
  get(subnet: Subnet4): string | undefined {
    return this.entries.get(subnetKey(subnet))?.value;
  }

  /** Writes a lease as another node would; ttlSeconds undefined = a reservation without TTL. */
  putOther(subnet: Subnet4, value: string, ttlSeconds?: number): void {
    this.write(subnet, value, ttlSeconds);
  }

  async list(): Promise<{ leases: StoredLease[]; revision: bigint }> {
    this.check();
    return { leases: [...this.entries.values()].map(({ subnet, value }) => ({ subnet, value })), revision: this.rev };
  }

  async createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number | null> {
    this.check();
    if (this.entries.has(subnetKey(subnet))) return null;
    this.write(subnet, value, ttlSeconds);
    return ttlSeconds;
  }

  async update(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number> {
    this.check();
    this.write(subnet, value, ttlSeconds);
    return ttlSeconds;
  }

  async delete(subnet: Subnet4): Promise<void> {
    this.check();
    this.remove(subnetKey(subnet));
  }

  watch(h: LeaseWatchHandlers): { close(): void } {
    this.watchers.add(h);
    const leases = [...this.entries.values()].map(({ subnet, value }) => ({ subnet, value }));
    queueMicrotask(() => { if (this.watchers.has(h)) h.snapshot(leases, this.rev); });
    return { close: () => { this.watchers.delete(h); } };
  }

  private check(): void {
    if (this.failing) throw this.failing;
  }

  private write(subnet: Subnet4, value: string, ttlSeconds: number | undefined): void {
    const key = subnetKey(subnet);
    const old = this.entries.get(key);
    if (old?.expiry) clearTimeout(old.expiry);
    const expiry = ttlSeconds === undefined ? null : setTimeout(() => this.remove(key), ttlSeconds * 1000);
    this.entries.set(key, { subnet, value, expiry });
    this.emit({ type: 'put', lease: { subnet, value } });
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.expiry) clearTimeout(e.expiry);
    this.entries.delete(key);
    this.emit({ type: 'delete', subnet: e.subnet });
  }

  private emit(c: LeaseChange): void {
    this.rev++;
    for (const w of this.watchers) w.changes([c], this.rev);
  }
}
