/** Turns a -errno from the shim into a VxtunError whose message names the errno and says what to do. */
import { getSystemErrorName } from 'node:util';
import { type ErrorCode, VxtunError } from '../errors.js';

export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `errno ${Math.abs(errno)}`;
  }
}

const PERMISSION = new Set(['EPERM', 'EACCES']);

/** `what` says what failed ("opening TUN vx0"); `hint` says what to do for non-permission failures. */
export function sysError(code: ErrorCode, what: string, negErrno: number, hint: string): VxtunError {
  const name = errnoName(negErrno);
  const errno = Math.abs(negErrno);
  if (PERMISSION.has(name)) {
    return new VxtunError('VXTUN_ERR_PERMISSION', `${what} failed with ${name}: run as root or grant CAP_NET_ADMIN`, { errno });
  }
  return new VxtunError(code, `${what} failed with ${name}: ${hint}`, { errno });
}
