/**
 * Every error a user can see carries a stable code from this table and a message that says what to do.
 * The README's "Error codes" section lists the same codes; test/unit/errors.test.ts checks they agree.
 * Areas append their own codes here (one table for the whole project).
 */
export const ERROR_CODES = {
  VXTUN_ERR_INVALID_ARGUMENT: 'an argument passed to a vxtun API is out of range or of the wrong type',
  VXTUN_ERR_CONFIG: 'the configuration file or flags are invalid',
  VXTUN_ERR_PERMISSION: 'the operation needs root or CAP_NET_ADMIN',
  VXTUN_ERR_TUN_OPEN: 'the TUN device could not be opened or configured',
  VXTUN_ERR_LINK: 'setting up the TUN link (MTU, address, route) failed',
  VXTUN_ERR_UDP_SOCKET: 'the UDP socket could not be opened, bound or configured',
  VXTUN_ERR_SYSCALL: 'a system call made by the native shim failed',
  VXTUN_ERR_NATIVE_MISSING: 'the native shim is not built',
  VXTUN_ERR_STATE_DIR: 'the state directory could not be read or written',
  VXTUN_ERR_WORKER: 'a dataplane worker thread failed',
  VXTUN_ERR_TUN_IN_USE: 'another vxtun in this network namespace owns the TUN device name',
  VXTUN_ERR_PORT_IN_USE: 'another vxtun in this network namespace owns the VXLAN port',
  VXTUN_ERR_NOT_RUNNING: 'no running vxtun answers on the control socket `vxtun status` reads',
  VXTUN_ERR_REGISTRY: 'the registry answered with an error',
  VXTUN_ERR_REGISTRY_UNAVAILABLE: 'no registry endpoint could be reached',
  VXTUN_ERR_LEASE_NOT_FOUND: 'the registry lease does not exist or has expired',
  VXTUN_ERR_LEASE_CONFLICT: 'another host holds our subnet, or advertises our public IP with another VTEP MAC',
  VXTUN_ERR_COMPACTED: 'the requested revision has been compacted',
  VXTUN_ERR_REGISTRY_DATA: 'the registry data directory is corrupt, unreadable or unwritable',
  VXTUN_ERR_REGISTRY_LISTEN: 'the registry cannot listen on the requested address (non-loopback needs TLS or --insecure)',
  VXTUN_ERR_BENCH: 'a benchmark mode failed',
  VXTUN_ERR_TESTBED: 'the network-namespace testbed could not be set up, or a command inside it failed',
  VXTUN_ERR_CNI_INSTALL: 'the CNI plugin could not be written into the CNI bin dir',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class VxtunError extends Error {
  readonly code: ErrorCode;
  readonly errno: number | undefined;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; errno?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VxtunError';
    this.code = code;
    this.errno = options.errno;
  }
}

export function isVxtunError(err: unknown): err is VxtunError {
  return err instanceof VxtunError;
}
