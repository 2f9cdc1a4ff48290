/**
 * etcd's v3 wire vocabulary, shared by the client (control/etcd) and the embedded registry (control/registry),
 * which import it and never each other: gRPC status codes, etcd's error texts (api/v3rpc/rpctypes/error.go),
 * the prefix range end, and the etcd version the registry answers as.
 */

/** gRPC status codes as etcd sends them (in gRPC trailers and in the JSON gateway's `code`). */
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

/** etcd's exact error texts. */
export const EtcdErrorText = {
  keyNotProvided: 'etcdserver: key is not provided',
  keyNotFound: 'etcdserver: key not found',
  valueProvided: 'etcdserver: value is provided',
  leaseProvided: 'etcdserver: lease is provided',
  tooManyOps: 'etcdserver: too many operations in txn request',
  duplicateKey: 'etcdserver: duplicate key given in txn request',
  requestTooLarge: 'etcdserver: request is too large',
  compacted: 'etcdserver: mvcc: required revision has been compacted',
  futureRev: 'etcdserver: mvcc: required revision is a future revision',
  leaseNotFound: 'etcdserver: requested lease not found',
  leaseExists: 'etcdserver: lease already exists',
  leaseTtlTooLarge: 'etcdserver: too large lease TTL',
  authFailed: 'etcdserver: authentication failed, invalid user ID or password',
  userEmpty: 'etcdserver: user name is empty',
  invalidToken: 'etcdserver: invalid auth token',
  permissionDenied: 'etcdserver: permission denied',
  authNotEnabled: 'etcdserver: authentication is not enabled',
  stopped: 'etcdserver: server stopped',
} as const;

/** What the embedded registry answers on GET /version (the Debian etcd it is tested against). */
export const ETCD_VERSION = { etcdserver: '3.4.23', etcdcluster: '3.4.0' } as const;

/** The range_end that makes `key` a prefix query: strip trailing 0xff bytes, then add one to the last byte. */
export function prefixEnd(key: Buffer | string): Buffer {
  const k = Buffer.from(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
  for (let i = k.length - 1; i >= 0; i--) {
    if (k[i] < 0xff) {
      const end = k.subarray(0, i + 1);
      end[i] += 1;
      return end;
    }
  }
  // All 0xff (or empty): every key >= key, which etcd spells "\0".
  return Buffer.from([0]);
}
