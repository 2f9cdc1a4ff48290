import { EMPTY, keyId, type KeyValue } from './types.js';

/** One version of a key: its value, or a tombstone (kv === null) written at (rev, sub). */
interface Entry {
  rev: number;
  sub: number;
  kv: KeyValue | null;
}

/**
 * The multi-version key space: every key keeps its versions since the compaction revision, so reads at a
 * past revision and watches from a past revision see exactly what was there. Keys are held in one sorted
 * array (binary search for ranges) plus a map for point lookups.
 */
export class Keyspace {
  private readonly histories = new Map<string, Entry[]>();
  private readonly sorted: string[] = [];
  private live = 0;

  get size(): number {
    return this.live;
  }

  get(id: string, atRev = Infinity): KeyValue | undefined {
    const h = this.histories.get(id);
    return h ? visibleAt(h, atRev) : undefined;
  }

  /** Keys in [from, to) visible at atRev, ascending. `to` undefined = single key, '' = no upper bound. */
  range(from: string, to: string | undefined, atRev = Infinity): KeyValue[] {
    const out: KeyValue[] = [];
    if (to === undefined) {
      const kv = this.get(from, atRev);
      if (kv) out.push(kv);
      return out;
    }
    for (let i = lowerBound(this.sorted, from); i < this.sorted.length; i++) {
      const id = this.sorted[i];
      if (to !== '' && id >= to) break;
      const kv = visibleAt(this.histories.get(id)!, atRev);
      if (kv) out.push(kv);
    }
    return out;
  }

  /** Ids in [from, to) with a live current value, ascending; deletes take them. */
  liveIds(from: string, to: string | undefined): string[] {
    return this.range(from, to).map((kv) => keyId(kv.key));
  }

  put(key: Buffer, value: Buffer, lease: string, rev: number, sub: number): { kv: KeyValue; prev: KeyValue | undefined } {
    const id = keyId(key);
    let h = this.histories.get(id);
    if (!h) {
      h = [];
      this.histories.set(id, h);
      this.sorted.splice(lowerBound(this.sorted, id), 0, id);
    }
    const prev = h.length > 0 ? (h[h.length - 1].kv ?? undefined) : undefined;
    const kv: KeyValue = {
      key: prev?.key ?? key,
      create_revision: prev ? prev.create_revision : rev,
      mod_revision: rev,
      version: prev ? prev.version + 1 : 1,
      value,
      lease,
    };
    h.push({ rev, sub, kv });
    if (!prev) this.live++;
    return { kv, prev };
  }

  /** Writes a tombstone; returns the deleted value, or undefined when the key was absent. */
  delete(id: string, rev: number, sub: number): KeyValue | undefined {
    const h = this.histories.get(id);
    const prev = h && h.length > 0 ? h[h.length - 1].kv : null;
    if (!h || !prev) return undefined;
    h.push({ rev, sub, kv: null });
    this.live--;
    return prev;
  }

  /** Drops versions no read at rev >= compactRev can see; a tombstone at compactRev stays for watchers. */
  compact(compactRev: number): void {
    for (let i = 0; i < this.sorted.length; i++) {
      const id = this.sorted[i];
      const h = this.histories.get(id)!;
      let keepFrom = 0;
      for (let j = h.length - 1; j >= 0; j--) {
        if (h[j].rev <= compactRev) {
          keepFrom = h[j].kv === null && h[j].rev < compactRev ? j + 1 : j;
          break;
        }
      }
      if (keepFrom > 0) h.splice(0, keepFrom);
      if (h.length === 0) {
        this.histories.delete(id);
        this.sorted.splice(i, 1);
        i--;
      }
    }
  }

  /** Every retained version ordered by (rev, sub): the event history after recovery. */
  *versions(): Generator<{ rev: number; sub: number; id: string; kv: KeyValue | null; prev: KeyValue | undefined }> {
    const all: { rev: number; sub: number; id: string; kv: KeyValue | null; prev: KeyValue | undefined }[] = [];
    for (const [id, h] of this.histories) {
      for (let j = 0; j < h.length; j++) {
        all.push({ rev: h[j].rev, sub: h[j].sub, id, kv: h[j].kv, prev: j > 0 ? (h[j - 1].kv ?? undefined) : undefined });
      }
    }
    all.sort((a, b) => a.rev - b.rev || a.sub - b.sub);
    yield* all;
  }

  /** Every key with its retained versions, for snapshots. */
  historyEntries(): Iterable<[string, readonly Entry[]]> {
    return this.histories.entries();
  }

  restoreHistory(id: string, entries: Entry[]): void {
    this.histories.set(id, entries);
    this.sorted.splice(lowerBound(this.sorted, id), 0, id);
    if (entries.length > 0 && entries[entries.length - 1].kv) this.live++;
  }
}

export type { Entry as KeyEntry };

function visibleAt(h: Entry[], atRev: number): KeyValue | undefined {
  for (let j = h.length - 1; j >= 0; j--) {
    if (h[j].rev <= atRev) return h[j].kv ?? undefined;
  }
  return undefined;
}

function lowerBound(arr: string[], x: string): number {
  let lo = 0,
    hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const deletedKv = (key: Buffer, rev: number): KeyValue => ({
  key,
  create_revision: 0,
  mod_revision: rev,
  version: 0,
  value: EMPTY,
  lease: '0',
});
