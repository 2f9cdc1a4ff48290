import type { Store } from './store.js';
import { EVENT_DELETE, EVENT_PUT, keyId, type Event } from './types.js';
import { inRange } from './kv-ops.js';

/**
 * Fans durable revisions out to watchers. A watcher first catches up from the retained history, then gets
 * each new revision as one response (a revision is never split). Single-key watchers are found through a map,
 * so a put to one key costs nothing for watchers of other keys; range watchers are checked one by one.
 */
export interface Watcher {
  readonly from: string;
  /** undefined = the single key `from`; '' = every key >= from. */
  readonly to: string | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  /** Next revision this watcher needs. */
  nextRev: number;
  /** Set when an event went out since the last progress tick. */
  sentSinceTick: boolean;
  deliver(rev: number, events: Event[]): void;
  progress(rev: number): void;
}

/** Catch-up responses hold whole revisions, about this many events each. */
const CATCHUP_BATCH = 1000;

export class WatchHub {
  /** Highest revision handed to watchers: everything up to it is durable. */
  delivered: number;
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly ranged = new Set<Watcher>();
  private count = 0;

  constructor(private store: Store) {
    this.delivered = store.rev;
  }

  get size(): number {
    return this.count;
  }

  /** Serves from another store holding the same history up to `delivered` (the durable state, after a log failure). */
  rebase(store: Store): void {
    this.store = store;
  }

  /** Registers a watcher whose nextRev is >= the compaction revision, sending its backlog first. */
  add(w: Watcher): void {
    if (w.nextRev <= this.delivered) this.catchUp(w);
    w.nextRev = Math.max(w.nextRev, this.delivered + 1);
    if (w.to === undefined) {
      let set = this.byKey.get(w.from);
      if (!set) this.byKey.set(w.from, (set = new Set()));
      set.add(w);
    } else {
      this.ranged.add(w);
    }
    this.count++;
  }

  remove(w: Watcher): void {
    const removed = w.to === undefined ? this.byKey.get(w.from)?.delete(w) : this.ranged.delete(w);
    if (w.to === undefined && this.byKey.get(w.from)?.size === 0) this.byKey.delete(w.from);
    if (removed) this.count--;
  }

  private catchUp(w: Watcher): void {
    const h = this.store.history;
    let batch: Event[] = [];
    for (let i = this.store.historyIndex(w.nextRev); i < h.length && h[i].rev <= this.delivered; i++) {
      for (const ev of h[i].events) if (matches(w, ev)) batch.push(ev);
      if (batch.length >= CATCHUP_BATCH) {
        w.deliver(this.delivered, batch);
        batch = [];
      }
    }
    if (batch.length > 0) w.deliver(this.delivered, batch);
  }

  /** Delivers every retained revision in (delivered, rev]. */
  advance(rev: number): void {
    if (rev <= this.delivered) return;
    const h = this.store.history;
    for (let i = this.store.historyIndex(this.delivered + 1); i < h.length && h[i].rev <= rev; i++) {
      this.fanOut(h[i].rev, h[i].events);
    }
    this.delivered = rev;
  }

  private fanOut(rev: number, events: Event[]): void {
    if (this.count === 0) return;
    const per = new Map<Watcher, Event[]>();
    const add = (w: Watcher, ev: Event) => {
      // A watcher created for a future start revision waits for it.
      if (rev < w.nextRev) return;
      if ((ev.type === EVENT_PUT && w.noPut) || (ev.type === EVENT_DELETE && w.noDelete)) return;
      const list = per.get(w);
      if (list) list.push(ev);
      else per.set(w, [ev]);
    };
    for (const ev of events) {
      const id = keyId(ev.kv.key);
      const set = this.byKey.get(id);
      if (set) for (const w of set) add(w, ev);
      for (const w of this.ranged) if (inRange(w, id)) add(w, ev);
    }
    for (const [w, list] of per) {
      w.nextRev = rev + 1;
      w.sentSinceTick = true;
      // All events of the revision go to everyone who wants them all: share the array so encoders can cache.
      try {
        w.deliver(rev, list.length === events.length ? events : list);
      } catch {
        // A broken stream must not stop delivery to the others; its transport closes it.
        this.remove(w);
      }
    }
  }

  /** Progress notification for idle watchers that asked for them. */
  tick(): void {
    const visit = (w: Watcher) => {
      if (w.progressNotify && !w.sentSinceTick) w.progress(this.delivered);
      w.sentSinceTick = false;
    };
    for (const set of this.byKey.values()) for (const w of set) visit(w);
    for (const w of this.ranged) visit(w);
  }
}

function matches(w: Watcher, ev: Event): boolean {
  if ((ev.type === EVENT_PUT && w.noPut) || (ev.type === EVENT_DELETE && w.noDelete)) return false;
  return inRange(w, keyId(ev.kv.key));
}
