/**
 * Where leases live, behind the narrow interface the lease policy needs. The policy (manager.ts) is tested
 * against the in-memory store (memory-store.ts); EtcdLeaseStore maps each call onto etcd v3 the way flanneld does.
 */
import { EtcdClient, cmp, op, type KeyValue, type ListAndWatch } from '../etcd/index.js';
import type { VxtunError } from '../../dataplane/errors.js';
import { subnetFromKey, subnetKey } from './lease.js';
import type { Subnet4 } from './ip4.js';

export interface StoredLease {
  readonly subnet: Subnet4;
  /** The raw value (Flannel's LeaseAttrs JSON, or whatever another writer put there). */
  readonly value: string;
}

export type LeaseChange =
  | { readonly type: 'put'; readonly lease: StoredLease }
  | { readonly type: 'delete'; readonly subnet: Subnet4 };

export interface LeaseWatchHandlers {
  /** Every lease at `revision`; replaces what the caller held (first listing, and again after compaction). */
  snapshot(leases: StoredLease[], revision: bigint): void;
  changes(changes: LeaseChange[], revision: bigint): void;
  /** Watching stopped for good. */
  error(err: VxtunError): void;
}

export interface LeaseStore {
  list(): Promise<{ leases: StoredLease[]; revision: bigint }>;
  /** Creates the subnet's key bound to a fresh TTL only if no key exists. Returns the granted TTL, or null if taken. */
  createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number | null>;
  /** Binds the key to a fresh TTL and writes the value unconditionally (Flannel's renew). Returns the granted TTL. */
  update(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number>;
  delete(subnet: Subnet4): Promise<void>;
  /** Lists, then follows changes from that listing's revision + 1, re-listing on compaction. */
  watch(h: LeaseWatchHandlers): { close(): void };
}

export class EtcdLeaseStore implements LeaseStore {
  private readonly dir: string;

  constructor(private readonly client: EtcdClient, prefix: string) {
    this.dir = `${prefix.replace(/\/+$/, '')}/subnets/`;
  }

  private key(s: Subnet4): string {
    return this.dir + subnetKey(s);
  }

  private decode(kvs: KeyValue[]): StoredLease[] {
    return kvs.flatMap((kv) => {
      const subnet = subnetFromKey(kv.key.toString('utf8'));
      return subnet ? [{ subnet, value: kv.value.toString('utf8') }] : [];
    });
  }

  async list(): Promise<{ leases: StoredLease[]; revision: bigint }> {
    const r = await this.client.range(this.dir, { prefix: true });
    return { leases: this.decode(r.kvs), revision: r.header.revision };
  }

  async createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number | null> {
    const grant = await this.client.leaseGrant(ttlSeconds);
    const key = this.key(subnet);
    const r = await this.client.txn({ compare: [cmp.version(key, '=', 0)], success: [op.put(key, value, { lease: grant.id })] });
    if (r.succeeded) return grant.ttl;
    await this.client.leaseRevoke(grant.id).catch(() => undefined);
    return null;
  }

  async update(subnet: Subnet4, value: string, ttlSeconds: number): Promise<number> {
    // Like flanneld: a new etcd lease per renewal; the old one expires with no keys attached.
    const grant = await this.client.leaseGrant(ttlSeconds);
    await this.client.put(this.key(subnet), value, { lease: grant.id });
    return grant.ttl;
  }

  async delete(subnet: Subnet4): Promise<void> {
    await this.client.delete(this.key(subnet));
  }

  watch(h: LeaseWatchHandlers): { close(): void } {
    const lw: ListAndWatch = this.client.listAndWatch(this.dir, {
      snapshot: (kvs, revision) => h.snapshot(this.decode(kvs), revision),
      events: (events, revision) => h.changes(events.flatMap((e): LeaseChange[] => {
        const subnet = subnetFromKey(e.kv.key.toString('utf8'));
        if (!subnet) return [];
        return e.type === 'PUT' ? [{ type: 'put', lease: { subnet, value: e.kv.value.toString('utf8') } }] : [{ type: 'delete', subnet }];
      }), revision),
      error: (err) => h.error(err),
    });
    return { close: () => lw.close() };
  }
}
