import fs from 'node:fs/promises';
import path from 'node:path';
import type { WalRecord } from '../store/types.js';
import { decodeFrames, encodeFrame } from './framing.js';
import { syncDir, writeAll, writeSnapshot } from './snapshot.js';

/**
 * Append-only log in segment files `wal/<first seq>.wal`. Appends are grouped: every record appended while an
 * fsync is in flight goes out with the next write + fdatasync, so concurrent writers share fsyncs. A record's
 * promise resolves only once it is on disk. After `snapshotEvery` records the state is snapshotted, a new
 * segment starts, and segments the snapshot covers are deleted.
 */
export interface WalOptions {
  snapshotEvery: number;
  /** Serializes the store as of the last appended record (called synchronously). */
  takeSnapshot: (seq: number) => Buffer;
  onSnapshot?: (seq: number, bytes: number) => void;
  onFsync?: (seconds: number, records: number) => void;
  /** Called when records up to seq became durable, before their appenders resume. */
  onDurable?: (seq: number) => void;
}

export interface Recovered {
  records: (WalRecord & { s: number })[];
  discardedBytes: number;
}

const SEGMENT_RE = /^(\d{16})\.wal$/;
const segmentName = (seq: number) => String(seq).padStart(16, '0') + '.wal';

export class WriteAheadLog {
  private pending: Buffer[] = [];
  private pendingLast = 0;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing = false;
  private snapshotting: Promise<void> | null = null;
  private failed: Error | null = null;
  private sinceSnapshot = 0;
  private seq: number;
  private durable: number;

  private constructor(
    private readonly dir: string,
    private fh: fs.FileHandle | undefined,
    lastSeq: number,
    private readonly opts: WalOptions,
  ) {
    this.seq = lastSeq;
    this.durable = lastSeq;
  }

  /**
   * Reads every intact record with seq > afterSeq (and <= upTo); cuts a torn tail off the last segment unless
   * readOnly (reading the durable state back after a failure, when the disk may not be writable).
   */
  static async recover(dataDir: string, afterSeq: number, opts: { upTo?: number; readOnly?: boolean } = {}): Promise<Recovered> {
    const dir = path.join(dataDir, 'wal');
    if (!opts.readOnly) await fs.mkdir(dir, { recursive: true });
    const names = (await fs.readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const records: Recovered['records'] = [];
    let discardedBytes = 0;
    let expect = afterSeq + 1;
    for (let i = 0; i < names.length; i++) {
      const file = path.join(dir, names[i]);
      const buf = await fs.readFile(file);
      const { payloads, validBytes } = decodeFrames(buf);
      if (validBytes < buf.length) {
        if (i !== names.length - 1)
          throw new Error(`write-ahead log segment ${file} is damaged at byte ${validBytes} and is not the last segment`);
        discardedBytes = buf.length - validBytes;
        if (!opts.readOnly) await fs.truncate(file, validBytes);
      }
      for (const p of payloads) {
        const rec = JSON.parse(p) as WalRecord & { s: number };
        if (rec.s < expect) continue;
        if (opts.upTo !== undefined && rec.s > opts.upTo) break;
        if (rec.s !== expect) throw new Error(`write-ahead log has a gap: expected record ${expect}, found ${rec.s} in ${file}`);
        records.push(rec);
        expect++;
      }
    }
    return { records, discardedBytes };
  }

  /** Opens the newest segment for appending (creating the first one if needed). */
  static async open(dataDir: string, lastSeq: number, opts: WalOptions): Promise<WriteAheadLog> {
    const dir = path.join(dataDir, 'wal');
    const names = (await fs.readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const name = names.length > 0 ? names[names.length - 1] : segmentName(lastSeq + 1);
    const fh = await fs.open(path.join(dir, name), 'a');
    await fh.sync();
    await syncDir(dir);
    return new WriteAheadLog(dir, fh, lastSeq, opts);
  }

  /** A log that cannot be written (its directory is read-only): every append fails with `err`. */
  static unwritable(dataDir: string, lastSeq: number, opts: WalOptions, err: Error): WriteAheadLog {
    const wal = new WriteAheadLog(path.join(dataDir, 'wal'), undefined, lastSeq, opts);
    wal.failed = err;
    return wal;
  }

  get lastSeq(): number {
    return this.seq;
  }
  get durableSeq(): number {
    return this.durable;
  }

  /** Queues a record; resolves once it is durable. The record is numbered in call order. */
  append(rec: WalRecord): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const s = ++this.seq;
    this.pending.push(encodeFrame(JSON.stringify({ s, ...rec })));
    this.pendingLast = s;
    this.sinceSnapshot++;
    const p = this.whenDurable(s);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flushLoop());
    }
    return p;
  }

  /** Resolves once every record up to seq is on disk (immediately when it already is). */
  whenDurable(seq: number = this.seq): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (seq <= this.durable) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 && !this.failed) {
      const batch = this.pending;
      const last = this.pendingLast;
      this.pending = [];
      const snapshot = this.sinceSnapshot >= this.opts.snapshotEvery && !this.snapshotting ? this.trySnapshot(last) : undefined;
      const started = performance.now();
      try {
        await writeAll(this.fh!, batch.length === 1 ? batch[0] : Buffer.concat(batch));
        await this.fh!.datasync();
      } catch (err) {
        this.fail(err as Error);
        break;
      }
      this.opts.onFsync?.((performance.now() - started) / 1000, batch.length);
      this.durable = last;
      this.opts.onDurable?.(last);
      this.releaseWaiters();
      if (snapshot) {
        this.sinceSnapshot = 0;
        try {
          await this.startSegment(last + 1);
        } catch (err) {
          this.fail(err as Error);
          break;
        }
        this.snapshotting = this.finishSnapshot(last, snapshot).finally(() => {
          this.snapshotting = null;
        });
      }
    }
    this.flushing = false;
  }

  /** A snapshot that cannot be serialized only postpones log truncation; the log still has every record. */
  private trySnapshot(seq: number): Buffer | undefined {
    try {
      return this.opts.takeSnapshot(seq);
    } catch {
      this.sinceSnapshot = 0;
      this.opts.onSnapshot?.(-1, 0);
      return undefined;
    }
  }

  private releaseWaiters(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) w.seq <= this.durable ? w.resolve() : keep.push(w);
    this.waiters = keep;
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }

  private async startSegment(firstSeq: number): Promise<void> {
    const fh = await fs.open(path.join(this.dir, segmentName(firstSeq)), 'a');
    await syncDir(this.dir);
    const old = this.fh;
    this.fh = fh;
    await old?.close();
  }

  private async finishSnapshot(seq: number, data: Buffer): Promise<void> {
    try {
      await writeSnapshot(path.dirname(this.dir), data);
      const covered = (await fs.readdir(this.dir)).filter((n) => SEGMENT_RE.test(n) && Number(SEGMENT_RE.exec(n)![1]) <= seq);
      for (const n of covered) await fs.unlink(path.join(this.dir, n));
      this.opts.onSnapshot?.(seq, data.length);
    } catch (err) {
      // The log still holds every record; a failed snapshot only delays log truncation.
      this.opts.onSnapshot?.(-1, 0);
      void err;
    }
  }

  get error(): Error | null {
    return this.failed;
  }

  async close(): Promise<void> {
    while (this.flushing) await new Promise((r) => setImmediate(r));
    if (this.snapshotting) await this.snapshotting;
    await this.fh?.close();
  }
}
