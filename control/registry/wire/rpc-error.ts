/**
 * etcd's errors as a gRPC status code plus etcd's exact message text (api/v3rpc/rpctypes/error.go).
 * Both transports render the same RpcError: gRPC as a status, the JSON gateway as
 * `{"error":msg,"message":msg,"code":N}` with the HTTP status grpc-gateway 1.6.4 (Debian's etcd 3.4.23) uses.
 */
import { EtcdErrorText as T, GrpcCode } from '../../etcd-wire.js';

export class RpcError extends Error {
  readonly grpcCode: number;
  constructor(grpcCode: number, message: string) {
    super(message);
    this.name = 'RpcError';
    this.grpcCode = grpcCode;
  }
}

const e = (code: number, message: string) => () => new RpcError(code, message);

export const Errors = {
  keyNotProvided: e(GrpcCode.INVALID_ARGUMENT, T.keyNotProvided),
  keyNotFound: e(GrpcCode.INVALID_ARGUMENT, T.keyNotFound),
  valueProvided: e(GrpcCode.INVALID_ARGUMENT, T.valueProvided),
  leaseProvided: e(GrpcCode.INVALID_ARGUMENT, T.leaseProvided),
  tooManyOps: e(GrpcCode.INVALID_ARGUMENT, T.tooManyOps),
  duplicateKey: e(GrpcCode.INVALID_ARGUMENT, T.duplicateKey),
  requestTooLarge: e(GrpcCode.INVALID_ARGUMENT, T.requestTooLarge),
  /** grpc-go's text for a message over the receive limit; `size` is the message's protobuf size (or a description). */
  messageTooLarge: (size: number | string, max: number) =>
    new RpcError(GrpcCode.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${size} vs. ${max})`),
  compacted: e(GrpcCode.OUT_OF_RANGE, T.compacted),
  futureRev: e(GrpcCode.OUT_OF_RANGE, T.futureRev),
  leaseNotFound: e(GrpcCode.NOT_FOUND, T.leaseNotFound),
  leaseExists: e(GrpcCode.FAILED_PRECONDITION, T.leaseExists),
  leaseTtlTooLarge: e(GrpcCode.OUT_OF_RANGE, T.leaseTtlTooLarge),
  authFailed: e(GrpcCode.INVALID_ARGUMENT, T.authFailed),
  userEmpty: e(GrpcCode.INVALID_ARGUMENT, T.userEmpty),
  invalidToken: e(GrpcCode.UNAUTHENTICATED, T.invalidToken),
  permissionDenied: e(GrpcCode.PERMISSION_DENIED, T.permissionDenied),
  authNotEnabled: e(GrpcCode.FAILED_PRECONDITION, T.authNotEnabled),
  stopped: e(GrpcCode.UNAVAILABLE, T.stopped),
  walFailed: (err: Error) =>
    new RpcError(
      GrpcCode.UNAVAILABLE,
      `etcdserver: write-ahead log failed: ${err.message}; the registry serves reads only: free space or fix the data directory, then restart it`,
    ),
  unimplemented: (what: string) => new RpcError(GrpcCode.UNIMPLEMENTED, `${what} is not implemented by the embedded registry`),
  invalid: (message: string) => new RpcError(GrpcCode.INVALID_ARGUMENT, message),
};

/** HTTP status for a gRPC code as grpc-gateway 1.6.4 maps it (FailedPrecondition is 412 there, 400 upstream). */
export function httpStatusFor(code: number): number {
  switch (code) {
    case GrpcCode.OK:
      return 200;
    case GrpcCode.CANCELLED:
      return 408;
    case GrpcCode.INVALID_ARGUMENT:
    case GrpcCode.OUT_OF_RANGE:
      return 400;
    case GrpcCode.NOT_FOUND:
      return 404;
    case GrpcCode.ALREADY_EXISTS:
      return 409;
    case GrpcCode.PERMISSION_DENIED:
      return 403;
    case GrpcCode.UNAUTHENTICATED:
      return 401;
    case GrpcCode.RESOURCE_EXHAUSTED:
      return 429;
    case GrpcCode.FAILED_PRECONDITION:
      return 412;
    case GrpcCode.UNIMPLEMENTED:
      return 501;
    case GrpcCode.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  return new RpcError(GrpcCode.UNKNOWN, err instanceof Error ? err.message : String(err));
}
