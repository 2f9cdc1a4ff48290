import type { RegistryService } from './service.js';
import type { Watcher } from './store/watch-hub.js';
import { rangeBounds } from './store/kv-ops.js';
import { num } from './store/requests.js';
import type { Event } from './store/types.js';
import { grpcErrorText, type KeyRange } from './auth.js';
import { toRpcError } from './wire/rpc-error.js';

/**
 * One watch stream (a gRPC Watch call or one POST /v3/watch): create, cancel and progress requests in,
 * WatchResponse messages out through `send`, with etcd's conventions (created-ack first, watch IDs per
 * stream, compacted start -> canceled + compact_revision).
 */
export interface WatchRequest {
  create_request?: {
    key?: Buffer;
    range_end?: Buffer;
    start_revision?: string | number;
    progress_notify?: boolean;
    filters?: number[];
    prev_kv?: boolean;
    watch_id?: string | number;
    fragment?: boolean;
  };
  cancel_request?: { watch_id?: string | number };
  progress_request?: Record<string, never>;
}

export type WatchResponse = Record<string, unknown> & { events?: Event[] };

const FILTER_NOPUT = 0,
  FILTER_NODELETE = 1;

export class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private closed = false;

  /** `mayRead` throws (an RpcError) when the stream's user may not watch a range. */
  constructor(
    private readonly svc: RegistryService,
    private readonly send: (resp: WatchResponse) => void,
    private readonly mayRead?: (range: KeyRange) => void,
  ) {}

  handle(req: WatchRequest): void {
    if (this.closed) return;
    if (req.create_request) this.create(req.create_request);
    else if (req.cancel_request) this.cancel(num(req.cancel_request.watch_id));
    else if (req.progress_request) this.send({ header: this.svc.header(this.svc.hub.delivered), watch_id: -1 });
  }

  private create(c: NonNullable<WatchRequest['create_request']>): void {
    const hub = this.svc.hub;
    let id = num(c.watch_id);
    if (id !== 0 && this.watchers.has(id)) {
      this.send({
        header: this.svc.header(hub.delivered),
        watch_id: -1,
        created: true,
        canceled: true,
        cancel_reason: 'mvcc: duplicate watch ID provided on the WatchStream',
      });
      return;
    }
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    const start = num(c.start_revision);
    const { from, to } = rangeBounds(c.key ?? Buffer.alloc(0), c.range_end);
    try {
      this.mayRead?.({ from, to });
    } catch (err) {
      const e = toRpcError(err);
      this.send({
        header: this.svc.header(hub.delivered),
        watch_id: -1,
        created: true,
        canceled: true,
        cancel_reason: grpcErrorText(e.grpcCode, e.message),
      });
      return;
    }
    const filters = c.filters ?? [];
    const prevKv = c.prev_kv === true;
    const send = this.send;
    const svc = this.svc;
    const w: Watcher = {
      from,
      to,
      noPut: filters.includes(FILTER_NOPUT),
      noDelete: filters.includes(FILTER_NODELETE),
      progressNotify: c.progress_notify === true,
      nextRev: start > 0 ? start : hub.delivered + 1,
      sentSinceTick: false,
      deliver(rev, events) {
        send({ header: svc.header(rev), watch_id: id, events: prevKv ? events : withoutPrev(events) });
      },
      progress(rev) {
        send({ header: svc.header(rev), watch_id: id });
      },
    };
    this.send({ header: this.svc.header(hub.delivered), watch_id: id, created: true });
    const compactRev = this.svc.store.compactRev;
    if (start > 0 && start < compactRev) {
      const { revision: _r, ...noRev } = this.svc.header();
      this.send({ header: noRev, watch_id: id, canceled: true, compact_revision: compactRev });
      return;
    }
    this.watchers.set(id, w);
    hub.add(w);
  }

  private cancel(id: number): void {
    const w = this.watchers.get(id);
    if (!w) return;
    this.svc.hub.remove(w);
    this.watchers.delete(id);
    this.send({ header: this.svc.header(this.svc.hub.delivered), watch_id: id, canceled: true });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.svc.hub.remove(w);
    this.watchers.clear();
  }
}

const stripped = new WeakMap<Event[], Event[]>();
/** Events without prev_kv, computed once per shared event list. */
function withoutPrev(events: Event[]): Event[] {
  let out = stripped.get(events);
  if (!out) {
    out = events.map((e) => (e.prev_kv ? { type: e.type, kv: e.kv } : e));
    stripped.set(events, out);
  }
  return out;
}
