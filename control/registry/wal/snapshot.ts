import fs from 'node:fs/promises';
import path from 'node:path';
import { Store } from '../store/store.js';
import { keyBytes, keyId, type KeyValue } from '../store/types.js';
import type { KeyEntry } from '../store/keyspace.js';
import { decodeFrames, encodeFrame } from './framing.js';

/**
 * A full copy of the store's state (every retained key version, leases, revisions) as of WAL record `seq`.
 * Written to a temp file, fsynced, then renamed over `snapshot`, so a crash leaves the old or the new one.
 */
export const SNAPSHOT_FILE = 'snapshot';

type EntryJson = [rev: number, sub: number] | [rev: number, sub: number, create: number, version: number, value: string, lease: string];
interface SnapshotJson {
  seq: number;
  rev: number;
  compactRev: number;
  leases: [id: string, ttl: number][];
  keys: [key: string, entries: EntryJson[]][];
}

export function serializeSnapshot(store: Store, seq: number): Buffer {
  const keys: SnapshotJson['keys'] = [];
  for (const [id, entries] of store.keyspace.historyEntries()) {
    keys.push([
      keyBytes(id).toString('base64'),
      entries.map(
        (e): EntryJson =>
          e.kv ? [e.rev, e.sub, e.kv.create_revision, e.kv.version, e.kv.value.toString('base64'), e.kv.lease] : [e.rev, e.sub],
      ),
    ]);
  }
  keys.sort((a, b) => Buffer.compare(Buffer.from(a[0], 'base64'), Buffer.from(b[0], 'base64')));
  const leases: SnapshotJson['leases'] = [...store.leases.all()].map((l) => [l.id, l.ttl]);
  const snap: SnapshotJson = { seq, rev: store.rev, compactRev: store.compactRev, leases, keys };
  return encodeFrame(JSON.stringify(snap));
}

/** Loads a snapshot into an empty store; returns its WAL sequence number (0 when there is none). */
export async function loadSnapshot(dir: string, store: Store): Promise<number> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(path.join(dir, SNAPSHOT_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const { payloads } = decodeFrames(buf);
  if (payloads.length !== 1) throw new Error(`snapshot file ${path.join(dir, SNAPSHOT_FILE)} is damaged (bad length or checksum)`);
  const snap = JSON.parse(payloads[0]) as SnapshotJson;
  store.rev = snap.rev;
  store.compactRev = snap.compactRev;
  for (const [id, ttl] of snap.leases) store.leases.add(id, ttl);
  for (const [keyB64, entries] of snap.keys) {
    const key = Buffer.from(keyB64, 'base64');
    const restored: KeyEntry[] = entries.map((e) => ({
      rev: e[0],
      sub: e[1],
      kv:
        e.length === 2
          ? null
          : ({
              key,
              create_revision: e[2],
              mod_revision: e[0],
              version: e[3],
              value: Buffer.from(e[4], 'base64'),
              lease: e[5],
            } satisfies KeyValue),
    }));
    const id = keyId(key);
    store.keyspace.restoreHistory(id, restored);
    const last = restored[restored.length - 1]?.kv;
    if (last) store.leases.attach(last.lease, id);
  }
  store.rebuildHistory();
  return snap.seq;
}

export async function writeSnapshot(dir: string, data: Buffer): Promise<void> {
  const tmp = path.join(dir, SNAPSHOT_FILE + '.tmp');
  const fh = await fs.open(tmp, 'w');
  try {
    await writeAll(fh, data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, path.join(dir, SNAPSHOT_FILE));
  await syncDir(dir);
}

/**
 * write(2) may write part of a buffer and report success (a file system that just filled up does): what it
 * did not take is written again, so a short write ends in the error that explains it, never in a record
 * acknowledged while only half of it is on disk.
 */
export async function writeAll(fh: fs.FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error(`write-ahead log: write made no progress (${off} of ${buf.length} bytes written)`);
    off += bytesWritten;
  }
}

export async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
