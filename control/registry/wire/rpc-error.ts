/**
 * etcd's errors as a gRPC status code plus etcd's exact message text (api/v3rpc/rpctypes/error.go).
 * Both transports render the same RpcError: gRPC as a status, the JSON gateway as
 * `{"error":msg,"message":msg,"code":N}` with the HTTP status grpc-gateway 1.6.4 (Debian's etcd 3.4.23) uses.
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

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
  keyNotProvided: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  requestTooLarge: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  /** grpc-go's text for a message over the receive limit; `size` is the message's protobuf size (or a description). */
  messageTooLarge: (size: number | string, max: number) => new RpcError(GrpcCode.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${size} vs. ${max})`),
  compacted: e(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(GrpcCode.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  leaseNotFound: e(GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExists: e(GrpcCode.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTtlTooLarge: e(GrpcCode.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  authFailed: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'),
  userEmpty: e(GrpcCode.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  invalidToken: e(GrpcCode.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  permissionDenied: e(GrpcCode.PERMISSION_DENIED, 'etcdserver: permission denied'),
  authNotEnabled: e(GrpcCode.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  stopped: e(GrpcCode.UNAVAILABLE, 'etcdserver: server stopped'),
  walFailed: (err: Error) => new RpcError(GrpcCode.UNAVAILABLE, `etcdserver: write-ahead log failed: ${err.message}`),
  unimplemented: (what: string) => new RpcError(GrpcCode.UNIMPLEMENTED, `${what} is not implemented by the embedded registry`),
  invalid: (message: string) => new RpcError(GrpcCode.INVALID_ARGUMENT, message),
};

/** HTTP status for a gRPC code as grpc-gateway 1.6.4 maps it (FailedPrecondition is 412 there, 400 upstream). */
export function httpStatusFor(code: number): number {
  switch (code) {
    case GrpcCode.OK: return 200;
    case GrpcCode.CANCELLED: return 408;
    case GrpcCode.INVALID_ARGUMENT: case GrpcCode.OUT_OF_RANGE: return 400;
    case GrpcCode.NOT_FOUND: return 404;
    case GrpcCode.ALREADY_EXISTS: return 409;
    case GrpcCode.PERMISSION_DENIED: return 403;
    case GrpcCode.UNAUTHENTICATED: return 401;
    case GrpcCode.RESOURCE_EXHAUSTED: return 429;
    case GrpcCode.FAILED_PRECONDITION: return 412;
    case GrpcCode.UNIMPLEMENTED: return 501;
    case GrpcCode.UNAVAILABLE: return 503;
    default: return 500;
  }
}

export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  return new RpcError(GrpcCode.UNKNOWN, err instanceof Error ? err.message : String(err));
}
