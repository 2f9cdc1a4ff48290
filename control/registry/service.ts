import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { VxtunError } from '../../dataplane/errors.js';
import { Errors } from './wire/rpc-error.js';
import { Store } from './store/store.js';
import { WatchHub } from './store/watch-hub.js';
import { checkPut, checkRequestSize, deleteRange, put, range, txn } from './store/kv-ops.js';
import { leaseIdOf, num, type DeleteRangeRequest, type PutRequest, type RangeRequest, type TxnRequest } from './store/requests.js';
import { keyBytes, type WalRecord } from './store/types.js';
import { WriteAheadLog } from './wal/wal.js';
import { hashKV } from './store/hash.js';
import { etcdSnapshot } from './store/etcd-snapshot.js';
import { SNAPSHOT_FILE, loadSnapshot, serializeSnapshot } from './wal/snapshot.js';
import { lockDataDir } from './wal/dir-lock.js';
import type { RegistryMetrics } from './metrics.js';
import type { Logger } from '../log.js';

export interface ServiceOptions {
  dataDir: string;
  snapshotEvery?: number;
  /** Auto-compaction keeps this many revisions of history (0 = never compact automatically). */
  historyRevisions?: number;
  progressIntervalMs?: number;
  log: Logger;
  metrics?: RegistryMetrics;
  /** Called once when the log failed and the durable state cannot be read back: the registry must stop. */
  onFatal?: (err: Error) => void;
}

export interface Header {
  cluster_id: string;
  member_id: string;
  revision?: number;
  raft_term: number;
}
type Resp = Record<string, unknown>;

/** The registry's one service layer: both transports call these methods with decoded messages. */
export class RegistryService {
  /** Replaced by the durable state read back from disk when the log fails (see rollBack). */
  store: Store;
  readonly hub: WatchHub;
  private readonly revAtSeq: [seq: number, rev: number][] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private rolledBack: Promise<void> | undefined;

  private constructor(
    private readonly opts: ServiceOptions,
    store: Store,
    private readonly wal: WriteAheadLog,
    readonly clusterId: string,
    readonly memberId: string,
    private readonly unlock: () => Promise<void>,
  ) {
    this.store = store;
    this.hub = new WatchHub(store);
  }

  static async open(opts: ServiceOptions): Promise<RegistryService> {
    const { dataDir, log } = opts;
    let unlock: (() => Promise<void>) | undefined;
    try {
      await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
      const lock = await lockDataDir(dataDir);
      unlock = lock.release;
      const ids = await loadIds(dataDir);
      const store = new Store();
      const snapSeq = await loadSnapshot(dataDir, store);
      const rec = await WriteAheadLog.recover(dataDir, snapSeq, { readOnly: lock.readOnly !== undefined });
      for (const r of rec.records) store.replay(r);
      const lastSeq = rec.records.length > 0 ? rec.records[rec.records.length - 1].s : snapSeq;
      log.info(
        {
          dataDir,
          snapshotSeq: snapSeq,
          walRecords: rec.records.length,
          discardedTornBytes: rec.discardedBytes,
          revision: store.rev,
          keys: store.keyspace.size,
          leases: store.leases.size,
        },
        `recovered ${rec.records.length} log records`,
      );
      let svc: RegistryService;
      const walOptions = {
        snapshotEvery: opts.snapshotEvery ?? 10_000,
        takeSnapshot: (seq: number) => serializeSnapshot(store, seq),
        onSnapshot: (seq: number, bytes: number) =>
          seq < 0 ? log.warn('snapshot failed; the log keeps every record') : log.info({ seq, bytes }, 'snapshot written'),
        onFsync: (s: number, n: number) => opts.metrics?.observeFsync(s, n),
        onDurable: (seq: number) => svc.durable(seq),
      };
      const wal = lock.readOnly
        ? WriteAheadLog.unwritable(dataDir, lastSeq, walOptions, lock.readOnly)
        : await WriteAheadLog.open(dataDir, lastSeq, walOptions);
      svc = new RegistryService(opts, store, wal, ids.clusterId, ids.memberId, unlock);
      if (lock.readOnly) {
        // Everything in memory was read from disk: there is nothing to roll back.
        svc.rolledBack = Promise.resolve();
        log.warn({ dataDir, err: lock.readOnly }, 'data directory is read-only; the registry serves reads only');
      }
      svc.startTimers();
      opts.metrics?.setRevision(store.rev);
      opts.metrics?.setLeases(store.leases.size);
      return svc;
    } catch (err) {
      await unlock?.();
      if (err instanceof VxtunError) throw err;
      throw new VxtunError(
        'VXTUN_ERR_REGISTRY_DATA',
        `cannot open registry data directory ${dataDir}: ${(err as Error).message}; fix or move it away (a fresh directory starts an empty registry)`,
        { cause: err },
      );
    }
  }

  /** Expired leases are looked for every 500 ms, as etcd does; the same tick runs auto-compaction. */
  private startTimers(): void {
    const expiry = setInterval(() => this.expireLeases(), 500);
    const progress = setInterval(() => this.hub.tick(), this.opts.progressIntervalMs ?? 600_000);
    expiry.unref();
    progress.unref();
    this.timers.push(expiry, progress);
  }

  private durable(seq: number): void {
    let rev = 0;
    while (this.revAtSeq.length > 0 && this.revAtSeq[0][0] <= seq) rev = this.revAtSeq.shift()![1];
    if (rev > 0) this.hub.advance(rev);
  }

  get healthy(): boolean {
    return !this.closed && !this.wal.error;
  }

  header(revision = this.store.rev): Header {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: 1 };
  }

  private check(): void {
    if (this.closed) throw Errors.stopped();
    if (this.wal.error) throw Errors.walFailed(this.wal.error);
  }

  /** Reads go on after the log failed, once the state is back to what is durable. */
  private async readable(): Promise<void> {
    if (this.closed) throw Errors.stopped();
    if (this.wal.error) await this.rollBack(this.wal.error);
  }

  /** Waits until everything a read may have seen is durable (at once after a log failure: all of it is). */
  private async settled(): Promise<void> {
    if (!this.wal.error) await this.wal.whenDurable();
  }

  private async commit(record: WalRecord | undefined): Promise<void> {
    if (!record) return this.wal.whenDurable();
    const p = this.wal.append(record);
    this.revAtSeq.push([this.wal.lastSeq, this.store.rev]);
    this.opts.metrics?.setRevision(this.store.rev);
    try {
      await p;
    } catch (err) {
      this.fatal(err as Error);
      throw Errors.walFailed(err as Error);
    }
  }

  private fatal(err: Error): void {
    if (this.closed) return;
    void this.rollBack(err).catch(() => {});
  }

  /**
   * After the log failed (disk full, I/O error) nothing more can be made durable: writes are refused from now
   * on, and the in-memory state, which may hold writes that were never acknowledged, is replaced by the state
   * read back from disk up to the last record known durable, so reads answer with acknowledged data only.
   * Only if even that fails does the registry stop (onFatal).
   */
  private rollBack(err: Error): Promise<void> {
    this.rolledBack ??= (async () => {
      this.opts.log.error(
        { err, durableRecords: this.wal.durableSeq },
        'write-ahead log failed; the registry serves reads only until it is restarted with a writable data directory',
      );
      try {
        const store = new Store();
        const snapSeq = await loadSnapshot(this.opts.dataDir, store);
        const rec = await WriteAheadLog.recover(this.opts.dataDir, snapSeq, { upTo: this.wal.durableSeq, readOnly: true });
        for (const r of rec.records) store.replay(r);
        this.store = store;
        this.hub.rebase(store);
        this.opts.metrics?.setRevision(store.rev);
        this.opts.metrics?.setLeases(store.leases.size);
      } catch (readErr) {
        this.opts.log.fatal({ err: readErr }, 'cannot read the data directory back after the log failed; the registry stops');
        this.opts.onFatal?.(readErr as Error);
        throw readErr;
      }
    })();
    return this.rolledBack;
  }

  /** Reads answer now but return only once everything they may have seen is durable. */
  async range(req: RangeRequest): Promise<Resp> {
    await this.readable();
    const r = range(this.store, req);
    const rev = this.store.rev;
    await this.settled();
    return { header: this.header(rev), ...r };
  }

  async put(req: PutRequest): Promise<Resp> {
    this.check();
    checkRequestSize(req);
    checkPut(this.store, req);
    const { result, record } = this.store.write(() => put(this.store, req));
    const rev = this.store.rev;
    await this.commit(record);
    return { header: this.header(rev), ...result };
  }

  async deleteRange(req: DeleteRangeRequest): Promise<Resp> {
    this.check();
    const { result, record } = this.store.write(() => deleteRange(this.store, req));
    const rev = this.store.rev;
    await this.commit(record);
    return { header: this.header(rev), ...result };
  }

  async txn(req: TxnRequest): Promise<Resp> {
    this.check();
    checkRequestSize(req);
    const { resp, record } = txn(this.store, req);
    const rev = this.store.rev;
    await this.commit(record);
    return { header: this.header(rev), ...resp };
  }

  async compact(req: { revision?: string | number }): Promise<Resp> {
    this.check();
    const rev = num(req.revision);
    // Watchers must have been handed every revision the compaction drops from history.
    for (let i = 0; i < 100 && rev > this.hub.delivered && rev <= this.store.rev; i++) await this.wal.whenDurable();
    const record = this.store.compact(rev);
    await this.commit(record);
    this.opts.log.info({ revision: rev }, 'compacted');
    return { header: this.header() };
  }

  async leaseGrant(req: { TTL?: string | number; ID?: string | number }): Promise<Resp> {
    this.check();
    const { record, lease } = this.store.grant(leaseIdOf(req.ID), num(req.TTL));
    await this.commit(record);
    this.opts.metrics?.setLeases(this.store.leases.size);
    return { header: this.header(), ID: lease.id, TTL: lease.ttl };
  }

  async leaseRevoke(req: { ID?: string | number }): Promise<Resp> {
    this.check();
    const record = this.store.revoke(leaseIdOf(req.ID));
    const rev = this.store.rev;
    await this.commit(record);
    this.opts.metrics?.setLeases(this.store.leases.size);
    return { header: this.header(rev) };
  }

  /** TTL 0 (omitted on the wire) tells the caller the lease is gone. Keepalives are not logged. */
  async leaseKeepAlive(req: { ID?: string | number }): Promise<Resp> {
    await this.readable();
    const id = leaseIdOf(req.ID);
    const lease = this.store.leases.get(id);
    let ttl = 0;
    if (lease && !this.store.leases.isExpired(lease)) {
      this.store.leases.renew(lease);
      ttl = lease.ttl;
    }
    await this.settled();
    return { header: this.header(), ID: id, TTL: ttl };
  }

  async leaseTimeToLive(req: { ID?: string | number; keys?: boolean }): Promise<Resp> {
    await this.readable();
    const id = leaseIdOf(req.ID);
    const lease = this.store.leases.get(id);
    await this.settled();
    if (!lease) return { header: this.header(), ID: id, TTL: -1 };
    const resp: Resp = { header: this.header(), ID: id, TTL: Math.max(this.store.leases.remaining(lease), 0), grantedTTL: lease.ttl };
    if (req.keys) resp.keys = [...lease.keys].sort().map(keyBytes);
    return resp;
  }

  /** etcd's HashKV: the hash of the key history up to a revision (0 = now); see store/hash.ts. */
  async hashKV(req: { revision?: string | number }): Promise<Resp> {
    await this.readable();
    const rev = num(req.revision);
    const compactRev = this.store.compactRev;
    if (rev > 0 && rev <= compactRev) throw Errors.compacted();
    if (rev > this.store.rev) throw Errors.futureRev();
    const header = this.header();
    const hash = hashKV(this.store, rev > 0 ? rev : this.store.rev);
    await this.settled();
    return { header, hash, compact_revision: compactRev > 0 ? compactRev : -1 };
  }

  /** The state as an etcd bbolt database (etcdctl snapshot save), once everything in it is durable. */
  async snapshot(): Promise<{ header: Header; db: Buffer }> {
    await this.readable();
    const header = this.header();
    const db = etcdSnapshot(this.store, this.wal.lastSeq);
    await this.settled();
    return { header, db };
  }

  async leaseLeases(): Promise<Resp> {
    await this.readable();
    const ids = [...this.store.leases.all()].map((l) => l.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    await this.settled();
    return { header: this.header(), leases: ids.map((ID) => ({ ID })) };
  }

  /** Keys attached to a lease (for revoke permission checks). */
  leaseKeys(id: unknown): string[] {
    try {
      return [...(this.store.leases.get(leaseIdOf(id as string))?.keys ?? [])];
    } catch {
      return [];
    }
  }

  /** What the registry keeps on disk: snapshot plus log segments (its dbSize, as etcd's is its bbolt file). */
  async diskBytes(): Promise<number> {
    let bytes = 0;
    const add = async (file: string) => {
      bytes += (await fs.stat(file).catch(() => ({ size: 0 }))).size;
    };
    await add(path.join(this.opts.dataDir, SNAPSHOT_FILE));
    const walDir = path.join(this.opts.dataDir, 'wal');
    for (const name of await fs.readdir(walDir).catch(() => [] as string[])) await add(path.join(walDir, name));
    return bytes;
  }

  /** Log records written so far (etcd's raft index: one per committed proposal). */
  get committed(): number {
    return this.wal.lastSeq;
  }

  async status(version: string): Promise<Resp> {
    const dbSize = await this.diskBytes();
    return {
      header: this.header(),
      version,
      dbSize,
      leader: this.memberId,
      raftIndex: this.wal.lastSeq,
      raftTerm: 1,
      raftAppliedIndex: this.wal.lastSeq,
      dbSizeInUse: dbSize,
    };
  }

  /**
   * Revokes expired leases, one revision each, so watchers see their keys' DELETE events; then compacts
   * history if auto-compaction is due.
   */
  expireLeases(): void {
    if (this.closed || this.wal.error) return;
    for (const lease of this.store.leases.expired()) {
      const keys = lease.keys.size;
      const record = this.store.revoke(lease.id);
      this.opts.log.info({ lease: lease.id, keys, revision: this.store.rev }, 'lease expired');
      this.commit(record).catch(() => {});
    }
    this.opts.metrics?.setLeases(this.store.leases.size);
    this.autoCompact();
  }

  private autoCompact(): void {
    const keep = this.opts.historyRevisions ?? 0;
    const target = this.hub.delivered - keep;
    if (keep > 0 && target > this.store.compactRev + Math.max(1, keep / 10)) {
      const record = this.store.compact(target);
      this.opts.log.info({ revision: target }, 'auto-compacted');
      this.commit(record).catch(() => {});
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.wal.close();
    await this.unlock();
  }
}

/** Cluster and member IDs are random per data directory and kept, like etcd's. */
async function loadIds(dataDir: string): Promise<{ clusterId: string; memberId: string }> {
  const file = path.join(dataDir, 'member.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as { clusterId: string; memberId: string };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const rnd = () => (randomBytes(8).readBigUInt64BE() >> 1n).toString();
  const ids = { clusterId: rnd(), memberId: rnd() };
  const tmp = file + '.tmp';
  const fh = await fs.open(tmp, 'w');
  await fh.writeFile(JSON.stringify(ids));
  await fh.sync();
  await fh.close();
  await fs.rename(tmp, file);
  return ids;
}
