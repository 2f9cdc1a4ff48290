/**
 * Where leases live, behind the narrow interface the lease policy needs. The policy (manager.ts) is tested
 * against the in-memory store (memory-store.ts); EtcdLeaseStore maps each call onto etcd v3 the way flanneld does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdClient, cmp, op, type KeyValue, type Watcher } from '../etcd/index.js';
import { backoffDelay } from '../backoff.js';
import { subnetsFromKey, subnetKey } from './lease.js';
import type { Subnet4 } from './ip4.js';
import type { Subnet6 } from './ip6.js';

export interface StoredLease {
  readonly subnet: Subnet4;
  /** The IPv6 subnet of a dual-stack lease (the `&…` part of its key). */
  readonly ipv6Subnet?: Subnet6;
  /** The registry revision that created the key (etcd's create_revision), when the store knows it. */
  readonly created?: bigint;
  /** The raw value (Flannel's LeaseAttrs JSON, or whatever another writer put there). */
  readonly value: string;
}

export type LeaseChange =
  | { readonly type: 'put'; readonly lease: StoredLease }
  | { readonly type: 'delete'; readonly subnet: Subnet4; readonly ipv6Subnet?: Subnet6 };

export interface LeaseWatchHandlers {
  /** Every lease at `revision`; replaces what the caller held (first listing, and again after compaction). */
  snapshot(leases: StoredLease[], revision: bigint): void;
  changes(changes: LeaseChange[], revision: bigint): void;
  /**
   * The registry could not be reached (the watch broke, a probe or a re-list failed). Watching never gives up:
   * it retries with capped backoff and, once the registry answers, delivers a fresh snapshot.
   */
  unreachable(err: Error): void;
}

export interface EtcdLeaseStoreOptions {
  /**
   * A client with short timeouts that checks every `probeIntervalMs` that the registry still answers, so a
   * connection that died silently (partition, a host gone without FIN/RST, a cluster without quorum) is noticed
   * within seconds and the watch is rebuilt. Default: no probe.
   */
  probe?: EtcdClient;
  probeIntervalMs?: number;
}

export interface LeaseStore {
  list(): Promise<{ leases: StoredLease[]; revision: bigint }>;
  /**
   * Creates the subnet's key (with the IPv6 part of a dual-stack lease) bound to a fresh TTL only if no key exists.
   * Returns the granted TTL, or null if taken.
   */
  createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number | null>;
  /** Binds the key to a fresh TTL and writes the value unconditionally (Flannel's renew). Returns the granted TTL. */
  update(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number>;
  delete(subnet: Subnet4, ipv6Subnet?: Subnet6): Promise<void>;
  /** Lists, then follows changes from that listing's revision + 1; lists again after compaction or an outage. */
  watch(h: LeaseWatchHandlers): { close(): void };
}

export class EtcdLeaseStore implements LeaseStore {
  private readonly dir: string;

  constructor(
    private readonly client: EtcdClient,
    prefix: string,
    private readonly o: EtcdLeaseStoreOptions = {},
  ) {
    this.dir = `${prefix.replace(/\/+$/, '')}/subnets/`;
  }

  private key(s: Subnet4, s6?: Subnet6): string {
    return this.dir + subnetKey(s, s6);
  }

  private decode(kvs: KeyValue[]): StoredLease[] {
    return kvs.flatMap((kv) => {
      const subnets = subnetsFromKey(kv.key.toString('utf8'));
      return subnets ? [{ ...subnets, value: kv.value.toString('utf8'), created: kv.createRevision }] : [];
    });
  }

  async list(): Promise<{ leases: StoredLease[]; revision: bigint }> {
    const r = await this.client.range(this.dir, { prefix: true });
    return { leases: this.decode(r.kvs), revision: r.header.revision };
  }

  async createIfAbsent(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number | null> {
    const grant = await this.client.leaseGrant(ttlSeconds);
    const key = this.key(subnet, ipv6Subnet);
    const r = await this.client.txn({ compare: [cmp.version(key, '=', 0)], success: [op.put(key, value, { lease: grant.id })] });
    if (r.succeeded) return grant.ttl;
    await this.client.leaseRevoke(grant.id).catch(() => undefined);
    return null;
  }

  async update(subnet: Subnet4, value: string, ttlSeconds: number, ipv6Subnet?: Subnet6): Promise<number> {
    // Like flanneld: a new etcd lease per renewal; the old one expires with no keys attached.
    const grant = await this.client.leaseGrant(ttlSeconds);
    await this.client.put(this.key(subnet, ipv6Subnet), value, { lease: grant.id });
    return grant.ttl;
  }

  async delete(subnet: Subnet4, ipv6Subnet?: Subnet6): Promise<void> {
    await this.client.delete(this.key(subnet, ipv6Subnet));
  }

  watch(h: LeaseWatchHandlers): { close(): void } {
    let closed = false;
    let generation = 0;
    let watcher: Watcher | undefined;
    let following = false;
    const changesOf = (events: { type: 'PUT' | 'DELETE'; kv: KeyValue }[]): LeaseChange[] =>
      events.flatMap((e): LeaseChange[] => {
        const subnets = subnetsFromKey(e.kv.key.toString('utf8'));
        if (!subnets) return [];
        return e.type === 'PUT'
          ? [{ type: 'put', lease: { ...subnets, value: e.kv.value.toString('utf8'), created: e.kv.createRevision } }]
          : [{ type: 'delete', ...subnets }];
      });
    // Every (re)start drops the old watch and lists again: the registry may have been replaced, restored from a
    // backup or compacted meanwhile, so resuming from our revision is not safe.
    const restart = (err?: Error): void => {
      if (closed) return;
      const gen = ++generation;
      following = false;
      watcher?.close();
      watcher = undefined;
      if (err) h.unreachable(err);
      void relist(gen);
    };
    const relist = async (gen: number): Promise<void> => {
      for (let attempt = 0; !closed && gen === generation; attempt++) {
        let listing;
        try {
          listing = await this.list();
        } catch (e) {
          if (closed || gen !== generation) return;
          h.unreachable(e as Error);
          await sleep(backoffDelay(attempt));
          continue;
        }
        if (closed || gen !== generation) return;
        // Outside the try: a throwing handler is a bug to surface, not a registry outage to retry forever.
        h.snapshot(listing.leases, listing.revision);
        following = true;
        watcher = this.client.watch(
          this.dir,
          { prefix: true, startRevision: listing.revision + 1n, maxReconnects: -1 },
          {
            events: (events, rev) => {
              if (gen === generation) h.changes(changesOf(events), rev);
            },
            compacted: () => {
              if (gen === generation) restart();
            },
            error: (e) => {
              if (gen === generation) restart(e);
            },
          },
        );
        return;
      }
    };
    let probing = false;
    const probe =
      this.o.probe === undefined
        ? undefined
        : setInterval(() => {
            if (!following || probing) return;
            probing = true;
            const gen = generation;
            this.o
              .probe!.range(this.dir, { prefix: true, countOnly: true })
              .then(
                () => undefined,
                (e: Error) => {
                  if (gen === generation) restart(e);
                },
              )
              .finally(() => {
                probing = false;
              });
          }, this.o.probeIntervalMs ?? 5000);
    restart();
    return {
      close: () => {
        closed = true;
        if (probe) clearInterval(probe);
        watcher?.close();
      },
    };
  }
}
