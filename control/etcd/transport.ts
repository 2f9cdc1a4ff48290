/**
 * HTTP(S) to a list of etcd client URLs: one POST per unary call, failover to the next endpoint with bounded
 * retries and exponential backoff, optional token auth, and `Grpc-Metadata-Hasleader: true` on every request so a
 * member that lost quorum answers "no leader" instead of hanging.
 *
 * Retry policy (the same idea as clientv3's): a request that surely never reached a server (connection refused, or a
 * pooled socket the server had already closed) or was refused with "no leader" before being proposed is retried for
 * every call, writes included; timeouts, resets mid-request and other "unavailable" answers are retried only for
 * calls that are safe to repeat (reads).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import https from 'node:https';
import { VxtunError } from '../../dataplane/errors.js';
import { GrpcCode } from '../etcd-wire.js';
import { EtcdError, parseErrorBody, registryError, unavailable, unexpectedResponse } from './errors.js';
import { NdjsonSplitter } from './ndjson.js';

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface TransportOptions {
  endpoints: string[];
  timeoutMs?: number;
  tls?: TlsOptions;
  auth?: { user: string; password: string };
  /** Attempts per call across all endpoints (default: 3 per endpoint, at least 3). */
  maxAttempts?: number;
  backoffMs?: { min: number; max: number };
}

export interface CallOptions {
  /** True for reads and other calls that may run twice without harm. */
  idempotent: boolean;
  /** The response is a stream; return its first message (lease keepalive). */
  streamed?: boolean;
}

/** Idle time before the first keepalive probe on a stream (libuv then probes every 1 s, 10 times). */
const STREAM_KEEPALIVE_MS = 2000;

const NEVER_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export class Transport {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  private current = 0;
  private token: string | undefined;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  private readonly httpsAgent: https.Agent;
  private readonly httpStreamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  private readonly httpsStreamAgent: https.Agent;
  private readonly maxAttempts: number;
  private readonly backoff: { min: number; max: number };

  constructor(private readonly opts: TransportOptions) {
    if (opts.endpoints.length === 0)
      throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'no registry endpoints given; pass at least one http(s)://host:port');
    this.endpoints = opts.endpoints.map(normalizeEndpoint);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000, ...opts.tls });
    this.httpsStreamAgent = new https.Agent({ keepAlive: false, maxSockets: Infinity, ...opts.tls });
    this.maxAttempts = opts.maxAttempts ?? Math.max(3, 3 * this.endpoints.length);
    this.backoff = opts.backoffMs ?? { min: 50, max: 1000 };
  }

  /** The endpoint calls start from; moves on after a failure. */
  endpoint(): string {
    return this.endpoints[this.current % this.endpoints.length];
  }

  rotate(): void {
    this.current = (this.current + 1) % this.endpoints.length;
  }

  backoffDelay(attempt: number): number {
    const ceiling = Math.min(this.backoff.max, this.backoff.min * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  agentFor(endpoint: string): http.Agent {
    return endpoint.startsWith('https:') ? this.httpsAgent : this.httpAgent;
  }

  async headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { 'content-type': 'application/json', 'grpc-metadata-hasleader': 'true' };
    if (this.opts.auth !== undefined) h.authorization = this.token ?? (await this.authenticate());
    return h;
  }

  /** POST `body` to `path`, failing over across endpoints; resolves with the decoded success message. */
  call(path: string, body: unknown, opts: CallOptions): Promise<Record<string, unknown>> {
    return this.withFailover((endpoint) => this.once(endpoint, 'POST', path, body, opts.streamed === true), opts.idempotent);
  }

  /** GET a plain JSON document (/version, /health) with failover. */
  get(path: string): Promise<Record<string, unknown>> {
    return this.withFailover((endpoint) => this.once(endpoint, 'GET', path, undefined, false), true);
  }

  private async withFailover(
    attempt: (endpoint: string) => Promise<Record<string, unknown>>,
    idempotent: boolean,
  ): Promise<Record<string, unknown>> {
    let lastErr: unknown;
    let reauthenticated = false;
    for (let n = 0; n < this.maxAttempts; n++) {
      const endpoint = this.endpoint();
      try {
        return await attempt(endpoint);
      } catch (err) {
        lastErr = err;
        if (err instanceof EtcdError && err.grpcCode === GrpcCode.UNAUTHENTICATED && this.opts.auth !== undefined && !reauthenticated) {
          this.dropToken(); // tokens expire (300 s by default); get a new one, once
          reauthenticated = true;
          n--;
          continue;
        }
        if (!retryable(err, idempotent)) throw err instanceof VxtunError ? err : unavailable([endpoint], err);
        this.rotate();
        if (n + 1 < this.maxAttempts) await sleep(this.backoffDelay(n));
      }
    }
    if (lastErr instanceof EtcdError) throw lastErr;
    throw unavailable(this.endpoints, lastErr);
  }

  /**
   * Opens a long-lived streaming POST (watch) on `endpoint`. Streams get their own sockets: they never return to
   * the pool, and a pooled socket must not sit behind a stream that lasts hours.
   */
  async openStream(endpoint: string, path: string, body: unknown): Promise<http.ClientRequest> {
    const headers = await this.headers();
    const url = new URL(path, endpoint);
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: 'POST',
      headers,
      agent: url.protocol === 'https:' ? this.httpsStreamAgent : this.httpStreamAgent,
    });
    // A watch stream is silent while nothing changes: TCP keepalive probes it, so a registry host that vanished
    // without FIN/RST (partition, replaced host) breaks the stream within seconds instead of leaving it deaf.
    req.on('socket', (s) => s.setKeepAlive(true, STREAM_KEEPALIVE_MS));
    req.end(JSON.stringify(body));
    return req;
  }

  /** Forget the auth token (the server said it is invalid); the next request authenticates again. */
  dropToken(): void {
    this.token = undefined;
  }

  close(): void {
    this.httpStreamAgent.destroy();
    this.httpsStreamAgent.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private async authenticate(): Promise<string> {
    const auth = this.opts.auth!;
    const res = await this.once(
      this.endpoint(),
      'POST',
      '/v3/auth/authenticate',
      { name: auth.user, password: auth.password },
      false,
      false,
    );
    if (typeof res.token !== 'string') {
      throw new VxtunError(
        'VXTUN_ERR_REGISTRY',
        `registry ${this.endpoint()} returned no auth token; check that auth is enabled and the user exists`,
      );
    }
    this.token = res.token;
    return res.token;
  }

  private async once(
    endpoint: string,
    method: string,
    path: string,
    body: unknown,
    streamed: boolean,
    withAuth = true,
  ): Promise<Record<string, unknown>> {
    const headers = withAuth ? await this.headers() : { 'content-type': 'application/json' };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const url = new URL(path, endpoint);
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method, headers, agent: this.agentFor(endpoint) });
      const timer = setTimeout(() => req.destroy(timeoutError(endpoint, this.timeoutMs)), this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A pooled socket the server closed while idle: the request never reached it.
        if (req.reusedSocket && err.code === 'ECONNRESET') (err as { neverSent?: boolean }).neverSent = true;
        reject(err);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        res.on('end', () => {
          clearTimeout(timer);
          try {
            resolve(decodeResponse(endpoint, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), streamed));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.end(payload);
    });
  }
}

/** Success vs error is read from the body: success messages carry a header, error bodies a code/message. */
export function decodeResponse(endpoint: string, status: number, text: string, streamed: boolean): Record<string, unknown> {
  let obj: unknown;
  try {
    if (streamed) {
      const objs: unknown[] = [];
      const splitter = new NdjsonSplitter((o) => objs.push(o));
      splitter.push(text);
      splitter.end();
      obj = objs[0];
    } else {
      obj = JSON.parse(text);
    }
  } catch {
    throw unexpectedResponse(endpoint, status, text);
  }
  if (obj === null || typeof obj !== 'object') throw unexpectedResponse(endpoint, status, text);
  const o = obj as Record<string, unknown>;
  if (streamed && o.result !== null && typeof o.result === 'object') return o.result as Record<string, unknown>;
  if (!streamed && 'header' in o) return o;
  const err = parseErrorBody(o);
  if (err !== undefined) throw registryError(endpoint, err.grpcCode, err.message, status);
  if (status === 200 && !streamed) return o;
  throw unexpectedResponse(endpoint, status, text);
}

export function retryable(err: unknown, idempotent: boolean): boolean {
  if (err instanceof EtcdError) {
    if (err.grpcCode !== GrpcCode.UNAVAILABLE) return false;
    // "no leader" is refused before the request is proposed; other unavailable answers may hide an applied write.
    return idempotent || /no leader/.test(err.etcdMessage);
  }
  if (err instanceof VxtunError) return false;
  const e = err as NodeJS.ErrnoException & { neverSent?: boolean };
  if (/CERT|SELF_SIGNED|ERR_TLS/.test(e.code ?? '')) return false; // another try meets the same certificate
  if (e.neverSent === true || (e.code !== undefined && NEVER_SENT.has(e.code))) return true;
  return idempotent;
}

function timeoutError(endpoint: string, ms: number): Error {
  return Object.assign(new Error(`no answer from ${endpoint} within ${ms} ms (a write may still have been applied)`), {
    code: 'ETIMEDOUT',
  });
}

function normalizeEndpoint(e: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(e) ? e : `http://${e}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new VxtunError(
      'VXTUN_ERR_INVALID_ARGUMENT',
      `registry endpoint "${e}" is not a URL; write it as http://host:port or https://host:port`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `registry endpoint "${e}" must use http or https`);
  }
  return url.origin;
}
