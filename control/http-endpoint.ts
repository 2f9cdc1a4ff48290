/**
 * One small local HTTP server for an agent's read-only endpoints (`/healthz`, `/readyz`, and whatever else a
 * caller adds, e.g. `/metrics`). GET and HEAD only; every other method is answered 405, unknown paths 404.
 * A handler that throws answers 500 and is logged; the server keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VxtunError } from '../dataplane/errors.js';
import type { Logger } from './log.js';

export interface RouteResponse {
  status: number;
  body: string;
  /** Default `text/plain; charset=utf-8`. */
  contentType?: string;
}

export type RouteHandler = () => RouteResponse | Promise<RouteResponse>;

export interface HttpEndpoint {
  readonly host: string;
  readonly port: number;
  /** Adds or replaces the handler of one path (e.g. `/metrics`). */
  route(path: string, handler: RouteHandler): void;
  close(): Promise<void>;
}

export async function startHttpEndpoint(
  o: { host: string; port: number; routes?: Record<string, RouteHandler> },
  log: Logger,
): Promise<HttpEndpoint> {
  const routes = new Map(Object.entries(o.routes ?? {}));
  const server: Server = createServer((req, res) => {
    void serve(req, res);
  });
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const handler = routes.get(path);
    let r: RouteResponse;
    if (!handler) r = { status: 404, body: `no such endpoint ${path}; try ${[...routes.keys()].join(', ')}\n` };
    else if (req.method !== 'GET' && req.method !== 'HEAD') r = { status: 405, body: 'only GET and HEAD are served\n' };
    else {
      try {
        r = await handler();
      } catch (err) {
        log.error({ path, err: (err as Error).message }, 'HTTP endpoint handler failed');
        r = { status: 500, body: `${(err as Error).message}\n` };
      }
    }
    res.writeHead(r.status, {
      'content-type': r.contentType ?? 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(r.body),
      ...(r.status === 405 ? { allow: 'GET, HEAD' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : r.body);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new VxtunError('VXTUN_ERR_CONFIG', `cannot serve HTTP on ${o.host}:${o.port}: ${err.message}; choose a free address and port`, {
          cause: err,
        }),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  server.on('error', (err) => log.error({ err: err.message }, 'HTTP endpoint error'));
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, paths: [...routes.keys()] }, 'HTTP endpoint listening');
  return {
    host: address.address,
    port: address.port,
    route: (path, handler) => {
      routes.set(path, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
