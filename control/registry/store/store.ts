import { Errors } from '../wire/rpc-error.js';
import { Keyspace, deletedKv } from './keyspace.js';
import { Leases, grantTtl, MAX_LEASE_TTL, type Lease } from './leases.js';
import {
  EVENT_DELETE,
  EVENT_PUT,
  keyBytes,
  keyId,
  type Event,
  type KeyValue,
  type RevisionEvents,
  type WalOp,
  type WalRecord,
} from './types.js';

/**
 * The registry's state machine: key space, leases, event history, revision and compaction revision.
 * Every change happens inside a write session (one revision) and comes out as one WalRecord; replaying
 * the records in order on an empty store rebuilds the same state. This class never touches the disk.
 */
export class Store {
  rev = 1;
  compactRev = 0;
  /** Whether a compaction at revision 0 happened (etcd refuses a second one); not kept in snapshots. */
  private compactedAtZero = false;
  readonly keyspace = new Keyspace();
  readonly leases: Leases;
  /** Events of every revision >= compactRev, ascending (the watch history). */
  readonly history: RevisionEvents[] = [];

  private session: { rev: number; sub: number; ops: WalOp[]; events: Event[] } | null = null;

  constructor(now: () => number = () => performance.now()) {
    this.leases = new Leases(now);
  }

  /** Runs fn as one revision; returns fn's result and the record to log (undefined when nothing changed). */
  write<T>(fn: () => T): { result: T; record: WalRecord | undefined } {
    this.session = { rev: this.rev + 1, sub: 0, ops: [], events: [] };
    try {
      const result = fn();
      return { result, record: this.endSession() };
    } finally {
      this.session = null;
    }
  }

  private endSession(): { t: 'w'; rev: number; ops: WalOp[] } | undefined {
    const s = this.session!;
    if (s.ops.length === 0) return undefined;
    this.rev = s.rev;
    this.history.push({ rev: s.rev, events: s.events });
    return { t: 'w', rev: s.rev, ops: s.ops };
  }

  applyPut(key: Buffer, value: Buffer, lease: string): KeyValue | undefined {
    const s = this.session!;
    const { kv, prev } = this.keyspace.put(key, value, lease, s.rev, s.sub++);
    const id = keyId(key);
    if (prev && prev.lease !== lease) this.leases.detach(prev.lease, id);
    this.leases.attach(lease, id);
    const op: WalOp = { k: key.toString('base64') };
    if (value.length > 0) op.v = value.toString('base64');
    if (lease !== '0') op.l = lease;
    s.ops.push(op);
    s.events.push(prev ? { type: EVENT_PUT, kv, prev_kv: prev } : { type: EVENT_PUT, kv });
    return prev;
  }

  applyDelete(id: string): KeyValue | undefined {
    const s = this.session!;
    const prev = this.keyspace.delete(id, s.rev, s.sub++);
    if (!prev) return undefined;
    this.leases.detach(prev.lease, id);
    s.ops.push({ k: prev.key.toString('base64'), d: 1 });
    s.events.push({ type: EVENT_DELETE, kv: deletedKv(prev.key, s.rev), prev_kv: prev });
    return prev;
  }

  checkReadRevision(rev: number): void {
    if (rev > this.rev) throw Errors.futureRev();
    if (rev > 0 && rev < this.compactRev) throw Errors.compacted();
  }

  compact(rev: number): WalRecord {
    if (rev > this.rev) throw Errors.futureRev();
    // etcd starts at compaction revision -1, so its first compaction at 0 succeeds (and changes nothing).
    if (rev <= this.compactRev && !(rev === 0 && this.compactRev === 0 && !this.compactedAtZero)) throw Errors.compacted();
    this.applyCompact(rev);
    return { t: 'c', rev };
  }

  private applyCompact(rev: number): void {
    if (rev === 0) this.compactedAtZero = true;
    this.compactRev = rev;
    this.keyspace.compact(rev);
    let drop = 0;
    while (drop < this.history.length && this.history[drop].rev < rev) drop++;
    this.history.splice(0, drop);
  }

  grant(requestedId: string, requestedTtl: number): { record: WalRecord; lease: Lease } {
    if (requestedTtl > MAX_LEASE_TTL) throw Errors.leaseTtlTooLarge();
    const id = requestedId === '0' ? this.leases.newId() : requestedId;
    if (this.leases.get(id)) throw Errors.leaseExists();
    const ttl = grantTtl(requestedTtl);
    return { record: { t: 'g', id, ttl }, lease: this.leases.add(id, ttl) };
  }

  /** Revokes a lease and deletes its keys in one revision (none when no key is attached). */
  revoke(id: string): WalRecord {
    const lease = this.leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    const ids = [...lease.keys].sort();
    const { record } = this.write(() => {
      for (const k of ids) this.applyDelete(k);
    });
    this.leases.remove(id);
    return { t: 'r', id, rev: this.rev, ops: record?.t === 'w' ? record.ops : [] };
  }

  /** Re-applies a logged record during recovery. */
  replay(rec: WalRecord): void {
    switch (rec.t) {
      case 'g':
        this.leases.add(rec.id, rec.ttl);
        return;
      case 'c':
        this.applyCompact(rec.rev);
        return;
      case 'r':
      case 'w': {
        if (rec.ops.length > 0) {
          this.rev = rec.rev - 1;
          this.write(() => {
            for (const op of rec.ops) {
              const key = Buffer.from(op.k, 'base64');
              if ('d' in op) this.applyDelete(keyId(key));
              else this.applyPut(key, op.v ? Buffer.from(op.v, 'base64') : Buffer.alloc(0), op.l ?? '0');
            }
          });
        }
        if (rec.t === 'r') this.leases.remove(rec.id);
        return;
      }
    }
  }

  /** Rebuilds the watch history from the key versions after a snapshot load. */
  rebuildHistory(): void {
    this.history.length = 0;
    for (const v of this.keyspace.versions()) {
      if (v.rev < this.compactRev) continue;
      let last = this.history[this.history.length - 1];
      if (!last || last.rev !== v.rev) {
        last = { rev: v.rev, events: [] };
        this.history.push(last);
      }
      const key = keyBytes(v.id);
      const ev: Event = v.kv ? { type: EVENT_PUT, kv: v.kv } : { type: EVENT_DELETE, kv: deletedKv(key, v.rev) };
      if (v.prev) ev.prev_kv = v.prev;
      last.events.push(ev);
    }
  }

  /** Index of the first history entry with rev >= rev. */
  historyIndex(rev: number): number {
    let lo = 0,
      hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].rev < rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
