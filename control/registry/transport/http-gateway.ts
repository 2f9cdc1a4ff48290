import type http from 'node:http';
import { decodeMessage, encodeMessage, parseJsonBody } from '../wire/gateway-json.js';
import { ETCD_VERSION, GrpcCode } from '../../etcd-wire.js';
import { Errors, RpcError, httpStatusFor, toRpcError } from '../wire/rpc-error.js';
import { serveStream } from './http-streams.js';
import { MAX_RECEIVE_BYTES } from '../store/kv-ops.js';
import type { RegistryService } from '../service.js';
import { authorize } from '../auth.js';
import { GATEWAY_HEADERS, MAX_BODY_BYTES, authenticate, checkMessageSize, typeOf, type GatewayDeps } from './gateway-common.js';

/**
 * etcd's v3 JSON gateway over node:http: POST /v3/<service>/<method> with a JSON body, answered with the
 * same JSON grpc-gateway writes, or etcd's error body. Streams (/v3/watch, /v3/lease/keepalive) live in
 * http-streams.ts.
 */
interface Route {
  method: string;
  req: string;
  resp: string;
  call: (svc: RegistryService, msg: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;
}

const P = 'etcdserverpb.';
// biome-ignore-start lint/suspicious/noExplicitAny: the routes hand protobufjs' untyped messages to typed service calls
const ROUTES: Record<string, Route> = {
  '/v3/kv/range': { method: 'Range', req: P + 'RangeRequest', resp: P + 'RangeResponse', call: (s, m) => s.range(m as any) },
  '/v3/kv/put': { method: 'Put', req: P + 'PutRequest', resp: P + 'PutResponse', call: (s, m) => s.put(m as any) },
  '/v3/kv/deleterange': {
    method: 'DeleteRange',
    req: P + 'DeleteRangeRequest',
    resp: P + 'DeleteRangeResponse',
    call: (s, m) => s.deleteRange(m as any),
  },
  '/v3/kv/txn': { method: 'Txn', req: P + 'TxnRequest', resp: P + 'TxnResponse', call: (s, m) => s.txn(m as any) },
  '/v3/kv/compaction': {
    method: 'Compact',
    req: P + 'CompactionRequest',
    resp: P + 'CompactionResponse',
    call: (s, m) => s.compact(m as any),
  },
  '/v3/lease/grant': {
    method: 'LeaseGrant',
    req: P + 'LeaseGrantRequest',
    resp: P + 'LeaseGrantResponse',
    call: (s, m) => s.leaseGrant(m as any),
  },
  '/v3/lease/revoke': {
    method: 'LeaseRevoke',
    req: P + 'LeaseRevokeRequest',
    resp: P + 'LeaseRevokeResponse',
    call: (s, m) => s.leaseRevoke(m as any),
  },
  '/v3/lease/timetolive': {
    method: 'LeaseTimeToLive',
    req: P + 'LeaseTimeToLiveRequest',
    resp: P + 'LeaseTimeToLiveResponse',
    call: (s, m) => s.leaseTimeToLive(m as any),
  },
  '/v3/lease/leases': {
    method: 'LeaseLeases',
    req: P + 'LeaseLeasesRequest',
    resp: P + 'LeaseLeasesResponse',
    call: (s) => s.leaseLeases(),
  },
  '/v3/auth/authenticate': { method: 'Authenticate', req: P + 'AuthenticateRequest', resp: P + 'AuthenticateResponse', call: () => ({}) },
  '/v3/maintenance/status': {
    method: 'Status',
    req: P + 'StatusRequest',
    resp: P + 'StatusResponse',
    call: (s) => s.status(ETCD_VERSION.etcdserver),
  },
};
// biome-ignore-end lint/suspicious/noExplicitAny: -
ROUTES['/v3/kv/lease/revoke'] = ROUTES['/v3/lease/revoke'];
ROUTES['/v3/kv/lease/timetolive'] = ROUTES['/v3/lease/timetolive'];
ROUTES['/v3/kv/lease/leases'] = ROUTES['/v3/lease/leases'];
const STREAMS = new Set(['/v3/watch', '/v3/lease/keepalive']);

export function createGatewayHandler(deps: GatewayDeps): http.RequestListener {
  return (req, res) => {
    handle(deps, req, res).catch((err) => {
      deps.log.error({ err, path: req.url }, 'gateway handler failed');
      if (!res.headersSent) sendError(res, toRpcError(err));
      else res.destroy();
    });
  };
}

async function handle(deps: GatewayDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = (req.url ?? '/').split('?')[0].replace(/^\/v3beta\//, '/v3/');
  if (req.method === 'OPTIONS') {
    res.writeHead(200, GATEWAY_HEADERS).end();
    return;
  }
  if (url === '/version' && req.method === 'GET') return sendJson(res, 200, JSON.stringify(ETCD_VERSION));
  if (url === '/health' && req.method === 'GET')
    return deps.svc.healthy ? sendJson(res, 200, '{"health":"true"}') : sendJson(res, 503, '{"health":"false"}');
  if (url === '/metrics' && req.method === 'GET') {
    const body = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType }).end(body);
    return;
  }
  const route = ROUTES[url];
  if (!route && !STREAMS.has(url)) return sendText(res, 404, url.startsWith('/v3/') ? 'Not Found\n' : '404 page not found\n');
  if (req.method !== 'POST') return sendText(res, 405, 'Method Not Allowed\n');
  if (STREAMS.has(url)) return serveStream(deps, url, req, res);

  let code: number = GrpcCode.OK;
  try {
    const body = await readBody(req);
    const msg = decodeMessage(typeOf(route.req), parseJsonBody(body));
    if (body.length >= SIZE_CHECK_FROM) checkMessageSize(typeOf(route.req), msg);
    const token = req.headers.authorization;
    if (route.method !== 'Authenticate') authorize(deps.auth, route.method, msg, token, (id) => deps.svc.leaseKeys(id));
    const resp = route.method === 'Authenticate' ? authenticate(deps, msg) : await route.call(deps.svc, msg);
    sendJson(res, 200, encodeMessage(typeOf(route.resp), resp));
  } catch (err) {
    const e = toRpcError(err);
    code = e.grpcCode;
    if (e.grpcCode === GrpcCode.UNKNOWN) deps.log.error({ err, path: url }, 'request failed');
    sendError(res, e);
  } finally {
    deps.metrics.request(route.method, code);
  }
}

/** Below this a JSON body cannot encode to more than MAX_RECEIVE_BYTES, so its size need not be computed. */
const SIZE_CHECK_FROM = MAX_RECEIVE_BYTES / 4;

/** Reads the body as text; over MAX_BODY_BYTES, refuses it as too large for gRPC and drops the rest. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(Errors.messageTooLarge(`body over ${MAX_BODY_BYTES} bytes`, MAX_RECEIVE_BYTES));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // The client went away mid-body: its request is cancelled, which is no fault of the server.
    req.on('error', () => reject(new RpcError(GrpcCode.CANCELLED, 'context canceled')));
  });
}

export function errorBody(e: RpcError): string {
  return JSON.stringify({ error: e.message, message: e.message, code: e.grpcCode });
}

export function sendError(res: http.ServerResponse, e: RpcError): void {
  sendJson(res, httpStatusFor(e.grpcCode), errorBody(e));
}

function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    ...GATEWAY_HEADERS,
    'Content-Type': 'application/json',
    'Grpc-Metadata-Content-Type': 'application/grpc',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendText(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
