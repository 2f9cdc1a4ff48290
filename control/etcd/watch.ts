/**
 * A watch over the gateway's `/v3/watch` stream (one POST per watch, NDJSON `{"result":…}` lines back).
 * It survives disconnects: it reconnects with backoff to the next endpoint and resumes from the last seen
 * revision + 1, drops events at or below the last delivered revision (old servers can repeat them, etcd #17247),
 * and hands compaction to the caller, who must re-list: resuming at a compacted revision fails forever (etcd #8668).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { VxtunError } from '../../dataplane/errors.js';
import { b64, decodeHeader, decodeKv, int64, type Bytes } from './codec.js';
import { EtcdErrorText, GrpcCode } from '../etcd-wire.js';
import { parseErrorBody, registryError, unavailable, unexpectedResponse } from './errors.js';
import { NdjsonSplitter } from './ndjson.js';
import { rangeEndOf } from './ops.js';
import type { Transport } from './transport.js';
import type { WatchEvent } from './types.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  /** First revision to deliver; omitted means "changes after now". Use a list's header.revision + 1. */
  startRevision?: bigint | number;
  prevKv?: boolean;
  progressNotify?: boolean;
  /** Reconnect when nothing arrived for this long (meaningful with progressNotify). */
  idleTimeoutMs?: number;
  /**
   * Consecutive failed connection attempts before the watcher gives up with VXTUN_ERR_REGISTRY_UNAVAILABLE (default 10);
   * -1: never reconnect, report the first break (for callers that list again instead of resuming).
   */
  maxReconnects?: number;
}

export interface WatchHandlers {
  events(events: WatchEvent[], revision: bigint): void;
  /** The server accepted the watch; `revision` is the store revision at that moment. */
  created?(revision: bigint): void;
  progress?(revision: bigint): void;
  /** The start revision was compacted; the watcher has stopped. List again and watch from the list's revision + 1. */
  compacted?(compactRevision: bigint): void;
  /** The watcher stopped for good. */
  error?(err: VxtunError): void;
}

/**
 * Runs a caller's handler. A throw there is the caller's bug, not a broken stream: it is re-thrown outside the
 * stream code (as an EventEmitter listener's would be) instead of forcing a reconnect that would hide it.
 */
function deliver(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

export type WatchHandler = WatchHandlers | ((events: WatchEvent[], revision: bigint) => void);

type Outcome =
  | { kind: 'compacted'; rev: bigint }
  | { kind: 'fatal'; err: VxtunError }
  | { kind: 'transient'; err: unknown; created: boolean };

export class Watcher {
  /** Resolves with the creation revision of the first stream; rejects when the watcher stops before that. */
  readonly ready: Promise<bigint>;
  /** Revision of the last event delivered (or start revision - 1). */
  lastEventRevision: bigint;
  duplicatesDropped = 0;
  reconnects = 0;
  private nextRevision: bigint;
  private closed = false;
  private everCreated = false;
  private req: ClientRequest | undefined;
  private readonly handlers: WatchHandlers;
  private settleReady: { resolve(rev: bigint): void; reject(err: unknown): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly key: Bytes,
    private readonly opts: WatchOptions,
    handler: WatchHandler,
  ) {
    this.handlers = typeof handler === 'function' ? { events: handler } : handler;
    this.nextRevision = opts.startRevision === undefined ? 0n : BigInt(opts.startRevision);
    this.lastEventRevision = this.nextRevision > 0n ? this.nextRevision - 1n : 0n;
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => undefined); // callers need not await it
    void this.run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.req?.destroy();
    this.wake?.();
    this.settleReady?.reject(new VxtunError('VXTUN_ERR_REGISTRY', 'the watch was closed before the registry accepted it'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async run(): Promise<void> {
    const max = this.opts.maxReconnects ?? 10;
    let failures = 0;
    let lastErr: unknown;
    while (!this.closed) {
      const started = Date.now();
      const outcome = await this.stream(this.transport.endpoint());
      if (this.closed) return;
      if (outcome.kind === 'compacted') return this.stop(undefined, outcome.rev);
      if (outcome.kind === 'fatal') return this.stop(outcome.err);
      lastErr = outcome.err;
      // Only a stream that was accepted and then lived a while proves the server healthy; a flapping one backs off.
      failures = outcome.created && Date.now() - started > 1000 ? 0 : failures + 1;
      if (failures > max) break;
      this.reconnects++;
      this.transport.rotate();
      await new Promise<void>((r) => {
        this.wake = r;
        void sleep(this.transport.backoffDelay(failures)).then(r);
      });
    }
    if (!this.closed) this.stop(lastErr instanceof VxtunError ? lastErr : unavailable(this.transport.endpoints, lastErr));
  }

  private stop(err: VxtunError | undefined, compactRevision?: bigint): void {
    this.closed = true;
    if (compactRevision !== undefined) {
      const e = registryError(
        this.transport.endpoint(),
        GrpcCode.OUT_OF_RANGE,
        `${EtcdErrorText.compacted} (compact revision ${compactRevision})`,
      );
      this.settleReady?.reject(e);
      if (this.handlers.compacted) this.handlers.compacted(compactRevision);
      else this.handlers.error?.(e);
      return;
    }
    if (err !== undefined) {
      this.settleReady?.reject(err);
      this.handlers.error?.(err);
    }
  }

  private createRequest(): Record<string, unknown> {
    const o = this.opts;
    return {
      create_request: {
        key: b64(this.key),
        range_end: rangeEndOf(this.key, o),
        start_revision: this.nextRevision > 0n ? String(this.nextRevision) : undefined,
        prev_kv: o.prevKv || undefined,
        progress_notify: o.progressNotify || undefined,
      },
    };
  }

  /** One HTTP stream, from POST to its end; never rejects. */
  private async stream(endpoint: string): Promise<Outcome> {
    let created = false;
    let req: ClientRequest;
    try {
      req = await this.transport.openStream(endpoint, '/v3/watch', this.createRequest());
    } catch (err) {
      const fatal = err instanceof VxtunError && err.code !== 'VXTUN_ERR_REGISTRY_UNAVAILABLE';
      return fatal ? { kind: 'fatal', err } : { kind: 'transient', err, created };
    }
    this.req = req;
    if (this.closed) req.destroy();
    return new Promise<Outcome>((resolve) => {
      let done = false;
      let idle: NodeJS.Timeout | undefined;
      const finish = (o: Outcome): void => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        req.destroy();
        resolve(o);
      };
      const touch = (): void => {
        if (this.opts.idleTimeoutMs === undefined) return;
        clearTimeout(idle);
        idle = setTimeout(
          () => finish({ kind: 'transient', err: new Error(`watch idle for ${this.opts.idleTimeoutMs} ms`), created }),
          this.opts.idleTimeoutMs,
        );
      };
      const onMessage = (obj: unknown): void => {
        const o = obj as Record<string, unknown>;
        if (o.result === undefined) {
          const e = parseErrorBody(o) ?? { grpcCode: GrpcCode.UNKNOWN, message: JSON.stringify(o).slice(0, 200) };
          const err = registryError(endpoint, e.grpcCode, e.message);
          // etcd's gateway ends open watches with CANCELLED "grpc: the client connection is closing" when the
          // member shuts down: like UNAVAILABLE, a reason to reconnect, not to give up.
          const transient = e.grpcCode === GrpcCode.UNAVAILABLE || e.grpcCode === GrpcCode.UNKNOWN || e.grpcCode === GrpcCode.CANCELLED;
          finish(transient ? { kind: 'transient', err, created } : { kind: 'fatal', err });
          return;
        }
        const r = o.result as Record<string, unknown>;
        const verdict = this.handle(r, created);
        if (r.created === true) created = true;
        if (verdict !== undefined) finish(verdict);
      };
      const splitter = new NdjsonSplitter(onMessage);
      req.on('error', (err) => finish({ kind: 'transient', err, created }));
      req.on('response', (res: IncomingMessage) => {
        touch();
        if (res.statusCode !== 200 && !/json/.test(String(res.headers['content-type']))) {
          const err = unexpectedResponse(endpoint, res.statusCode ?? 0, res.statusMessage ?? '');
          finish(err.code === 'VXTUN_ERR_REGISTRY_UNAVAILABLE' ? { kind: 'transient', err, created } : { kind: 'fatal', err });
          return;
        }
        res.on('data', (chunk: Buffer) => {
          touch();
          try {
            splitter.push(chunk);
          } catch (err) {
            finish({ kind: 'transient', err, created });
          }
        });
        const ended = (): void => {
          try {
            splitter.end();
          } catch {
            /* a torn last line: reconnect below */
          }
          finish({ kind: 'transient', err: new Error(`watch stream from ${endpoint} ended`), created });
        };
        res.on('end', ended);
        res.on('aborted', ended);
        res.on('error', (err) => finish({ kind: 'transient', err, created }));
      });
      touch();
    });
  }

  /** Applies one WatchResponse; returns an outcome when the stream must end. */
  private handle(r: Record<string, unknown>, alreadyCreated: boolean): Outcome | undefined {
    const header = decodeHeader(r.header);
    const compactRevision = int64(r.compact_revision);
    if (r.canceled === true) {
      if (compactRevision > 0n) return { kind: 'compacted', rev: compactRevision };
      const reason = typeof r.cancel_reason === 'string' ? r.cancel_reason : 'no reason given';
      const err = registryError(this.transport.endpoint(), GrpcCode.UNKNOWN, `watch canceled: ${reason}`);
      if (!/invalid auth token/.test(reason)) return { kind: 'fatal', err };
      this.transport.dropToken(); // the token expired while we were away: authenticate again and retry
      return { kind: 'transient', err, created: false };
    }
    if (r.created === true) {
      // Without a start revision, "now" is fixed at the first creation; later streams resume after it.
      if (this.nextRevision === 0n) {
        this.nextRevision = header.revision + 1n;
        this.lastEventRevision = header.revision;
      }
      if (!alreadyCreated && !this.everCreated) {
        this.everCreated = true;
        deliver(() => this.handlers.created?.(header.revision));
        this.settleReady?.resolve(header.revision);
      }
      return undefined;
    }
    const raw = Array.isArray(r.events) ? (r.events as Record<string, unknown>[]) : [];
    if (raw.length === 0) {
      if (header.revision > 0n && compactRevision === 0n) {
        if (header.revision + 1n > this.nextRevision) this.nextRevision = header.revision + 1n;
        deliver(() => this.handlers.progress?.(header.revision));
      }
      return undefined;
    }
    const floor = this.lastEventRevision;
    const events: WatchEvent[] = [];
    for (const e of raw) {
      const kv = decodeKv(e.kv);
      if (kv.modRevision <= floor) {
        this.duplicatesDropped++;
        continue;
      }
      events.push({
        type: e.type === 'DELETE' || e.type === 1 ? 'DELETE' : 'PUT',
        kv,
        prevKv: e.prev_kv === undefined ? undefined : decodeKv(e.prev_kv),
      });
      if (kv.modRevision > this.lastEventRevision) this.lastEventRevision = kv.modRevision;
    }
    if (this.lastEventRevision + 1n > this.nextRevision) this.nextRevision = this.lastEventRevision + 1n;
    const rev = this.lastEventRevision;
    if (events.length > 0) deliver(() => this.handlers.events(events, rev));
    return undefined;
  }
}
