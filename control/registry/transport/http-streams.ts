import type http from 'node:http';
import { GATEWAY_HEADERS, MAX_BODY_BYTES, typeOf, type GatewayDeps } from './gateway-common.js';
import { decodeMessage, encodeMessage } from '../wire/gateway-json.js';
import { GrpcCode } from '../../etcd-wire.js';
import { RpcError, httpStatusFor, toRpcError } from '../wire/rpc-error.js';
import { JsonObjectSplitter } from './json-stream.js';
import { WatchStream, type WatchRequest, type WatchResponse } from '../watch-stream.js';
import type { Event } from '../store/types.js';
import { watchAccess } from '../auth.js';

/**
 * The gateway's two streaming routes. The request body is a sequence of JSON messages; the response is
 * chunked, one `{"result":<msg>}` line per message. A watch stays open after the body ends until the
 * client goes away (as in etcd); a keepalive POST ends after answering every message in its body.
 */
const HTTP_STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  412: 'Precondition Failed',
};

export const slowWatcher = () =>
  new RpcError(GrpcCode.RESOURCE_EXHAUSTED, 'watch stream fell too far behind; reconnect and resume from the last revision received');

export function serveStream(deps: GatewayDeps, url: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const isWatch = url === '/v3/watch';
  const splitter = new JsonObjectSplitter();
  let started = false;
  let finished = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json', 'Grpc-Metadata-Content-Type': 'application/grpc' });
  };
  const fail = (err: unknown) => {
    if (finished) return;
    finished = true;
    const e = toRpcError(err);
    // Decode errors surface as Unknown on streams, as grpc-gateway reports them.
    const code =
      e.grpcCode === GrpcCode.INVALID_ARGUMENT && !(err instanceof RpcError && err.message.startsWith('etcdserver'))
        ? GrpcCode.UNKNOWN
        : e.grpcCode;
    const status = httpStatusFor(code);
    if (!started) {
      res.writeHead(status, { ...GATEWAY_HEADERS, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: e.message, message: e.message, code }));
    } else {
      res.end(
        JSON.stringify({
          error: { grpc_code: code, http_code: status, message: e.message, http_status: HTTP_STATUS_TEXT[status] ?? 'Error' },
        }) + '\n',
      );
    }
    watch?.close();
    backlog.release();
    // A watcher cut for not reading would keep its unsent bytes: give the error a moment, then drop the connection.
    if (res.writableLength > 0) setTimeout(() => res.destroy(), 1000).unref();
  };

  const backlog = deps.backlog.stream();
  const watch = isWatch
    ? new WatchStream(
        deps.svc,
        (resp) => {
          if (finished) return;
          start();
          const text = encodeWatchResponse(deps.svc, resp);
          const bytes = Buffer.byteLength(text);
          res.write(text, () => backlog.flushed(bytes));
          if (!backlog.queued(bytes)) fail(slowWatcher());
        },
        watchAccess(deps.auth, req.headers.authorization),
      )
    : undefined;

  let queue: Promise<void> = Promise.resolve();
  const onMessage = (text: string) => {
    const msgType = typeOf(isWatch ? 'etcdserverpb.WatchRequest' : 'etcdserverpb.LeaseKeepAliveRequest');
    let msg: Record<string, unknown>;
    try {
      msg = decodeMessage(msgType, JSON.parse(text));
    } catch (err) {
      return fail(err instanceof SyntaxError ? new RpcError(GrpcCode.UNKNOWN, err.message) : err);
    }
    if (watch) {
      watch.handle(msg as WatchRequest);
      return;
    }
    queue = queue.then(async () => {
      if (finished) return;
      try {
        const resp = await deps.svc.leaseKeepAlive(msg);
        start();
        res.write('{"result":' + encodeMessage(typeOf('etcdserverpb.LeaseKeepAliveResponse'), resp) + '}\n');
        deps.metrics.request('LeaseKeepAlive', 0);
      } catch (err) {
        fail(err);
      }
    });
  };

  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    if (finished) return;
    try {
      for (const text of splitter.push(chunk, MAX_BODY_BYTES)) onMessage(text);
    } catch (err) {
      fail(new RpcError(GrpcCode.UNKNOWN, (err as Error).message));
    }
  });
  req.on('end', () => {
    if (splitter.partial) return fail(new RpcError(GrpcCode.UNKNOWN, 'unexpected EOF'));
    if (!isWatch)
      void queue.then(() => {
        if (!finished) {
          finished = true;
          start();
          res.end();
        }
      });
  });
  res.on('close', () => {
    finished = true;
    backlog.release();
    if (watch) watch.close();
  });
}

const eventsJson = new WeakMap<Event[], string>();
const headerJson = new WeakMap<GatewayDeps['svc'], { rev: number | undefined; text: string }>();

/** WatchResponse as a gateway line; the events array and header are encoded once and shared by all watchers. */
function encodeWatchResponse(svc: GatewayDeps['svc'], resp: WatchResponse): string {
  const onlyEvents = resp.events !== undefined && resp.created === undefined && resp.canceled === undefined;
  if (!onlyEvents) return '{"result":' + encodeMessage(typeOf('etcdserverpb.WatchResponse'), resp) + '}\n';
  const header = resp.header as { revision?: number };
  let h = headerJson.get(svc);
  if (!h || h.rev !== header.revision) {
    h = { rev: header.revision, text: encodeMessage(typeOf('etcdserverpb.ResponseHeader'), header) };
    headerJson.set(svc, h);
  }
  let ev = eventsJson.get(resp.events!);
  if (ev === undefined) {
    const t = typeOf('mvccpb.Event');
    ev = '[' + resp.events!.map((e) => encodeMessage(t, e as unknown as Record<string, unknown>)).join(',') + ']';
    eventsJson.set(resp.events!, ev);
  }
  const id = resp.watch_id as number;
  return '{"result":{"header":' + h.text + (id !== 0 ? ',"watch_id":"' + id + '"' : '') + ',"events":' + ev + '}}\n';
}
