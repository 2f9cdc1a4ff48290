/**
 * Flannel's way of following a prefix: list it, watch from the list's revision + 1, and list again whenever the
 * watch falls behind compaction. The caller sees a snapshot (initial and after every re-list) and then events.
 */
import type { VxtunError } from '../../dataplane/errors.js';
import type { Bytes } from './codec.js';
import type { KeyValue, WatchEvent } from './types.js';
import type { WatchOptions, Watcher } from './watch.js';
import type { EtcdClient } from './client.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ListAndWatchHandlers {
  /** The full state of the prefix at `revision`; replaces whatever the caller held. */
  snapshot(kvs: KeyValue[], revision: bigint): void;
  events(events: WatchEvent[], revision: bigint): void;
  /** Following stopped for good (listing failed or the watch gave up reconnecting). */
  error?(err: VxtunError): void;
}

export interface ListAndWatch {
  /** Revision up to which the caller is in sync once following starts (the first snapshot's, or resumeFrom - 1). */
  readonly ready: Promise<bigint>;
  /** How many times compaction forced a re-list. */
  readonly relists: number;
  close(): void;
}

export interface ListAndWatchOptions extends Pick<WatchOptions, 'prevKv' | 'progressNotify' | 'idleTimeoutMs'> {
  /**
   * Continue from a revision the caller already holds (e.g. saved before a restart) instead of listing first;
   * if it has been compacted, list and continue from there.
   */
  resumeFrom?: bigint;
}

export function listAndWatch(client: EtcdClient, prefix: Bytes, h: ListAndWatchHandlers, opts: ListAndWatchOptions): ListAndWatch {
  let closed = false;
  let watcher: Watcher | undefined;
  let relists = 0;
  let settle: { resolve(r: bigint): void; reject(e: unknown): void };
  const ready = new Promise<bigint>((resolve, reject) => {
    settle = { resolve, reject };
  });
  ready.catch(() => undefined);

  const fail = (err: VxtunError): void => {
    closed = true;
    settle.reject(err);
    h.error?.(err);
  };

  const watchFrom = (startRevision: bigint): void => {
    const { resumeFrom: _, ...watchOpts } = opts;
    watcher = client.watch(
      prefix,
      { ...watchOpts, prefix: true, startRevision },
      {
        created: () => settle.resolve(startRevision - 1n),
        events: (events, rev) => h.events(events, rev),
        compacted: () => {
          if (closed) return;
          relists++;
          // A compaction racing the re-list would loop quickly; a short pause keeps that loop gentle.
          void sleep(Math.min(1000, 10 * relists)).then(list);
        },
        error: fail,
      },
    );
  };

  const list = async (): Promise<void> => {
    let listing;
    try {
      listing = await client.range(prefix, { prefix: true });
    } catch (err) {
      return fail(err as VxtunError);
    }
    if (closed) return;
    const revision = listing.header.revision;
    h.snapshot(listing.kvs, revision);
    settle.resolve(revision);
    watchFrom(revision + 1n);
  };
  if (opts.resumeFrom !== undefined) watchFrom(opts.resumeFrom);
  else void list();

  return {
    ready,
    get relists() {
      return relists;
    },
    close() {
      closed = true;
      watcher?.close();
    },
  };
}
