/**
 * One instance per TUN name and per VXLAN port in a network namespace. Each is claimed with an open-file-description
 * lock (fcntl F_OFD_SETLK through fs-native-extensions, as the registry locks its data dir) on a file under
 * /run/vxtun: the kernel drops the lock when the holder's file is closed, so it dies with the process however
 * that ends (kill -9 included), and a file left behind never blocks a start. A clean stop removes its files (while
 * still holding the lock; a claimer that locked a file meanwhile unlinked sees its inode gone from the path and
 * tries again), so /run/vxtun does not collect a file per namespace that ever ran vxtun. The lock file's name carries the
 * inode of the network namespace, so TUNs and ports of one name in different namespaces do not collide. The
 * file's content (the holder's pid) only serves the error message.
 *
 * The kernel's own answer to a second device or socket is "File exists" / EADDRINUSE; a second vxtun would get
 * neither (it attaches to the multi-queue TUN, and SO_REUSEPORT lets its socket join the group), hence these locks.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VxtunError, type ErrorCode } from './errors.js';

const require = createRequire(import.meta.url);
const { tryLock } = require('fs-native-extensions') as { tryLock(fd: number): boolean };

export const RUN_DIR = '/run/vxtun';

export interface Ownership {
  /** Gives up the claims (closing the lock files). Safe to call twice. */
  release(): void;
}

/**
 * Claims the TUN name (unless it is a kernel-numbered pattern like `vx%d`) and the VXLAN port of this family in
 * the calling thread's network namespace. Throws VXTUN_ERR_TUN_IN_USE / VXTUN_ERR_PORT_IN_USE when another live
 * process holds one, VXTUN_ERR_STATE_DIR when the lock directory cannot be used.
 */
export function claimOwnership(o: { tunName: string; family: 4 | 6; port: number }, dir = RUN_DIR): Ownership {
  const netns = netnsId();
  const fds: { fd: number; file: string }[] = [];
  const release = () => {
    for (const { fd, file } of fds.splice(0)) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
      closeSync(fd);
    }
  };
  try {
    if (!o.tunName.includes('%')) {
      fds.push(
        claim(
          dir,
          `netns-${netns}.tun-${o.tunName}.lock`,
          'VXTUN_ERR_TUN_IN_USE',
          (pid) =>
            `TUN ${o.tunName} belongs to another vxtun in this network namespace${pid}; stop it, or give this instance another tunName`,
        ),
      );
    }
    fds.push(
      claim(
        dir,
        `netns-${netns}.udp${o.family}-${o.port}.lock`,
        'VXTUN_ERR_PORT_IN_USE',
        (pid) =>
          `VXLAN port ${o.port} (IPv${o.family}) belongs to another vxtun in this network namespace${pid}; stop it, or set another port`,
      ),
    );
  } catch (err) {
    release();
    throw err;
  }
  return { release };
}

/** The inode of the calling thread's network namespace: the same for every process inside it. */
function netnsId(): number {
  try {
    return statSync('/proc/thread-self/ns/net').ino;
  } catch {
    return statSync('/proc/self/ns/net').ino;
  }
}

const CLAIM_ATTEMPTS = 5;

function claim(dir: string, name: string, code: ErrorCode, message: (pid: string) => string): { fd: number; file: string } {
  const file = join(dir, name);
  for (let attempt = 1; ; attempt++) {
    const fd = claimOnce(file, dir, code, message);
    // The holder we waited for may have removed the file between our open and our lock: then the lock is on a
    // file nobody else will find, and the path must be claimed afresh.
    if (sameFile(fd, file) || attempt === CLAIM_ATTEMPTS) return { fd, file };
    closeSync(fd);
  }
}

function sameFile(fd: number, file: string): boolean {
  try {
    return fstatSync(fd).ino === statSync(file).ino;
  } catch {
    return false;
  }
}

function claimOnce(file: string, dir: string, code: ErrorCode, message: (pid: string) => string): number {
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    fd = openSync(file, 'a+', 0o600);
  } catch (cause) {
    throw new VxtunError(
      'VXTUN_ERR_STATE_DIR',
      `cannot create the lock file ${file} (${(cause as Error).message}): run as root, or make ${dir} writable`,
      { cause },
    );
  }
  if (!tryLock(fd)) {
    const holder = (() => {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch {
        return '';
      }
    })();
    closeSync(fd);
    throw new VxtunError(code, message(/^\d+$/.test(holder) ? ` (pid ${holder})` : ''));
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}
