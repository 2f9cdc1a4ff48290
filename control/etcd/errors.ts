/**
 * etcd error bodies -> VxtunError. The decision is made on the gRPC code and message in the body, never on the
 * HTTP status (Debian's 3.4.23 answers 412 where upstream answers 400 for the same error).
 * Three body shapes exist:
 *   3.4/3.5 unary   {"error":"<msg>","message":"<msg>","code":N}
 *   3.6 unary       {"code":N,"message":"<msg>","details":[]}
 *   stream line     {"error":{"grpc_code":N,"http_code":N,"message":"..."}}  (3.6: {"error":{"code":N,"message":"..."}})
 */
import { VxtunError, type ErrorCode } from '../../dataplane/errors.js';
import { GrpcCode } from '../etcd-wire.js';

/** A registry error that keeps what etcd said beside the vxtun code. */
export class EtcdError extends VxtunError {
  readonly grpcCode: number;
  readonly etcdMessage: string;
  readonly httpStatus: number | undefined;
  readonly endpoint: string;
  constructor(
    code: ErrorCode,
    message: string,
    info: { grpcCode: number; etcdMessage: string; httpStatus?: number; endpoint: string; cause?: unknown },
  ) {
    super(code, message, { cause: info.cause });
    this.name = 'EtcdError';
    this.grpcCode = info.grpcCode;
    this.etcdMessage = info.etcdMessage;
    this.httpStatus = info.httpStatus;
    this.endpoint = info.endpoint;
  }
}

/** Pulls (code, message) out of any of etcd's error shapes; undefined when the body is not an error. */
export function parseErrorBody(body: unknown): { grpcCode: number; message: string } | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const o = body as Record<string, unknown>;
  const nested = o.error !== null && typeof o.error === 'object' ? (o.error as Record<string, unknown>) : undefined;
  const code = numberOf(o.code) ?? numberOf(nested?.grpc_code) ?? numberOf(nested?.code);
  const message = stringOf(o.message) ?? stringOf(nested?.message) ?? stringOf(o.error);
  if (code === undefined && message === undefined) return undefined;
  if (code === undefined && nested === undefined && typeof o.error !== 'string') return undefined;
  return { grpcCode: code ?? GrpcCode.UNKNOWN, message: message ?? '' };
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Maps an etcd (code, message) to the vxtun code and a message that says what to do. */
export function registryError(endpoint: string, grpcCode: number, etcdMessage: string, httpStatus?: number): EtcdError {
  const info = { grpcCode, etcdMessage, httpStatus, endpoint };
  const said = `registry ${endpoint} answered "${etcdMessage}" (gRPC code ${grpcCode})`;
  if (grpcCode === GrpcCode.NOT_FOUND && /lease not found/.test(etcdMessage)) {
    return new EtcdError(
      'VXTUN_ERR_LEASE_NOT_FOUND',
      `${said}: the lease expired or was revoked; grant a new lease and re-create its keys`,
      info,
    );
  }
  if (grpcCode === GrpcCode.OUT_OF_RANGE && /compacted/.test(etcdMessage)) {
    return new EtcdError('VXTUN_ERR_COMPACTED', `${said}: that revision is gone; list again and continue from the new revision`, info);
  }
  if (grpcCode === GrpcCode.UNAVAILABLE) {
    return new EtcdError(
      'VXTUN_ERR_REGISTRY_UNAVAILABLE',
      `${said}: the member has no leader or is overloaded; check the etcd cluster's health`,
      info,
    );
  }
  return new EtcdError('VXTUN_ERR_REGISTRY', `${said}: check the request and the registry's logs`, info);
}

/** Error for a response that is not etcd JSON at all (a proxy page, a plain-text 404). */
export function unexpectedResponse(endpoint: string, httpStatus: number, text: string): EtcdError {
  const gateway = httpStatus === 502 || httpStatus === 503 || httpStatus === 504;
  const code: ErrorCode = gateway ? 'VXTUN_ERR_REGISTRY_UNAVAILABLE' : 'VXTUN_ERR_REGISTRY';
  const grpcCode = gateway ? GrpcCode.UNAVAILABLE : httpStatus === 404 || httpStatus === 405 ? GrpcCode.UNIMPLEMENTED : GrpcCode.UNKNOWN;
  const snippet = text.slice(0, 120).trim();
  return new EtcdError(
    code,
    `registry ${endpoint} answered HTTP ${httpStatus} "${snippet}", which is not etcd v3 JSON; check that the endpoint is an etcd v3 (>= 3.4) client URL`,
    {
      grpcCode,
      etcdMessage: snippet,
      httpStatus,
      endpoint,
    },
  );
}

export function unavailable(endpoints: readonly string[], cause: unknown): VxtunError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const hint = /certificate|self.signed|CERT_/i.test(why)
    ? 'the server certificate is not trusted: pass the CA that signed it (the tls.ca client option)'
    : 'check that the registry is running and the endpoints are right';
  return new VxtunError(
    'VXTUN_ERR_REGISTRY_UNAVAILABLE',
    `no registry endpoint answered (${endpoints.join(', ')}; last error: ${why}); ${hint}`,
    { cause },
  );
}
