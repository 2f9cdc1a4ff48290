/**
 * The one registry client of vxtun: etcd's v3 HTTP/JSON gateway, the same code against the embedded registry
 * and a real etcd cluster (3.4, 3.5, 3.6).
 */
import { VxtunError } from '../../dataplane/errors.js';
import { decodeHeader, int, int64, unb64, type Bytes } from './codec.js';
import { listAndWatch, type ListAndWatch, type ListAndWatchHandlers, type ListAndWatchOptions } from './list-watch.js';
import {
  decodeDelete,
  decodePut,
  decodeRange,
  decodeTxn,
  deleteRequest,
  putRequest,
  rangeRequest,
  txnRequest,
  type DeleteOptions,
  type PutOptions,
  type RangeOptions,
  type TxnRequest,
} from './ops.js';
import { Transport, type TlsOptions } from './transport.js';
import type {
  DeleteResult,
  KeyValue,
  LeaseGrant,
  LeaseKeepAlive,
  LeaseTimeToLive,
  PutResult,
  RangeResult,
  ServerStatus,
  ServerVersion,
  TxnResult,
} from './types.js';
import { Watcher, type WatchHandler, type WatchOptions } from './watch.js';

export interface EtcdClientOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379']; tried in turn on failure. */
  endpoints: string[];
  /** Per-request timeout (default 5000 ms). */
  timeoutMs?: number;
  tls?: TlsOptions;
  auth?: { user: string; password: string };
  /** Attempts per call across endpoints (default 3 per endpoint). */
  maxAttempts?: number;
}

export class EtcdClient {
  private readonly t: Transport;
  private readonly watchers = new Set<Watcher>();

  constructor(opts: EtcdClientOptions) {
    this.t = new Transport(opts);
  }

  async range(key: Bytes, opts: RangeOptions = {}): Promise<RangeResult> {
    return decodeRange(await this.t.call('/v3/kv/range', rangeRequest(key, opts), { idempotent: true }));
  }

  /** One key, or undefined when it does not exist. */
  async get(key: Bytes, opts: { revision?: bigint | number } = {}): Promise<KeyValue | undefined> {
    return (await this.range(key, { revision: opts.revision })).kvs[0];
  }

  async put(key: Bytes, value: Bytes, opts: PutOptions = {}): Promise<PutResult> {
    return decodePut(await this.t.call('/v3/kv/put', putRequest(key, value, opts), { idempotent: false }));
  }

  async delete(key: Bytes, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return decodeDelete(await this.t.call('/v3/kv/deleterange', deleteRequest(key, opts), { idempotent: false }));
  }

  /** All compares hold -> `success` ops run, else `failure` ops; all writes of one txn share one revision. */
  async txn(t: TxnRequest): Promise<TxnResult> {
    const writes = [...(t.success ?? []), ...(t.failure ?? [])].some((o) => !('request_range' in o.json));
    return decodeTxn(await this.t.call('/v3/kv/txn', txnRequest(t), { idempotent: !writes }));
  }

  async compact(revision: bigint | number, opts: { physical?: boolean } = {}): Promise<bigint> {
    const res = await this.t.call(
      '/v3/kv/compaction',
      { revision: String(revision), physical: opts.physical || undefined },
      { idempotent: true },
    );
    return decodeHeader(res.header).revision;
  }

  /** Grants a lease of `ttlSeconds` (servers raise it to their minimum, 2 s by default); `id` 0/omitted lets the server pick. */
  async leaseGrant(ttlSeconds: number, id?: bigint): Promise<LeaseGrant> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0) {
      throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `lease TTL ${ttlSeconds} is not a whole number of seconds >= 0`);
    }
    // Upper-case TTL/ID: the gateway silently ignores "ttl" (unknown fields are allowed) and grants the minimum.
    const res = await this.t.call(
      '/v3/lease/grant',
      { TTL: String(ttlSeconds), ID: id === undefined ? undefined : String(id) },
      { idempotent: false },
    );
    if (typeof res.error === 'string' && res.error !== '') {
      throw new VxtunError('VXTUN_ERR_REGISTRY', `registry refused the lease grant: ${res.error}; check the TTL and lease ID`);
    }
    return { header: decodeHeader(res.header), id: int64(res.ID), ttl: int(res.TTL) };
  }

  /** Renews a lease once; throws VXTUN_ERR_LEASE_NOT_FOUND when it expired or never existed (TTL 0 or absent). */
  async leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAlive> {
    const res = await this.t.call('/v3/lease/keepalive', { ID: String(id) }, { idempotent: true, streamed: true });
    const ttl = int(res.TTL);
    if (ttl <= 0) {
      throw new VxtunError(
        'VXTUN_ERR_LEASE_NOT_FOUND',
        `lease ${id} has expired or does not exist; grant a new lease and re-create its keys`,
      );
    }
    return { header: decodeHeader(res.header), id: int64(res.ID), ttl };
  }

  /** Revokes a lease and deletes its keys (in one revision). */
  async leaseRevoke(id: bigint): Promise<bigint> {
    // Not repeated after an ambiguous failure: a second revoke of a revoked lease answers "lease not found".
    const res = await this.t.call('/v3/lease/revoke', { ID: String(id) }, { idempotent: false });
    return decodeHeader(res.header).revision;
  }

  /** Time left on a lease, or null when it expired or never existed (etcd answers TTL -1 with HTTP 200). */
  async leaseTimeToLive(id: bigint, opts: { keys?: boolean } = {}): Promise<LeaseTimeToLive | null> {
    const res = await this.t.call('/v3/lease/timetolive', { ID: String(id), keys: opts.keys || undefined }, { idempotent: true });
    const ttl = int(res.TTL);
    if (ttl < 0) return null;
    const keys = Array.isArray(res.keys) ? res.keys.map(unb64) : [];
    return { header: decodeHeader(res.header), id: int64(res.ID), ttl, grantedTtl: int(res.grantedTTL), keys };
  }

  async leases(): Promise<bigint[]> {
    const res = await this.t.call('/v3/lease/leases', {}, { idempotent: true });
    return Array.isArray(res.leases) ? res.leases.map((l: { ID?: unknown }) => int64(l.ID)) : [];
  }

  watch(key: Bytes, opts: WatchOptions, handler: WatchHandler): Watcher {
    for (const old of this.watchers) if (old.isClosed) this.watchers.delete(old);
    const w = new Watcher(this.t, key, opts, handler);
    this.watchers.add(w);
    return w;
  }

  /**
   * List `prefix`, then watch from the list's revision + 1; on compaction list again (Flannel's resync).
   * Takes the handlers as an object, or as `(prefix, onSnapshot, onEvents, opts?)`.
   */
  listAndWatch(prefix: Bytes, handlers: ListAndWatchHandlers, opts?: ListAndWatchOptions): ListAndWatch;
  listAndWatch(
    prefix: Bytes,
    onSnapshot: ListAndWatchHandlers['snapshot'],
    onEvents: ListAndWatchHandlers['events'],
    opts?: ListAndWatchOptions,
  ): ListAndWatch;
  listAndWatch(
    prefix: Bytes,
    a: ListAndWatchHandlers | ListAndWatchHandlers['snapshot'],
    b?: ListAndWatchHandlers['events'] | ListAndWatchOptions,
    c?: ListAndWatchOptions,
  ): ListAndWatch {
    if (typeof a === 'function') return listAndWatch(this, prefix, { snapshot: a, events: b as ListAndWatchHandlers['events'] }, c ?? {});
    return listAndWatch(this, prefix, a, (b as ListAndWatchOptions | undefined) ?? {});
  }

  async status(): Promise<ServerStatus> {
    const res = await this.t.call('/v3/maintenance/status', {}, { idempotent: true });
    return {
      header: decodeHeader(res.header),
      version: typeof res.version === 'string' ? res.version : '',
      dbSize: int64(res.dbSize),
      leader: int64(res.leader),
      raftIndex: int64(res.raftIndex),
      raftTerm: int64(res.raftTerm),
    };
  }

  async version(): Promise<ServerVersion> {
    const res = await this.t.get('/version');
    return { etcdserver: String(res.etcdserver ?? ''), etcdcluster: String(res.etcdcluster ?? '') };
  }

  /** Stops every watcher and frees pooled sockets. */
  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers.clear();
    this.t.close();
  }
}
