/** Waiting on a queue's TUN fd, UDP socket and wake-up eventfd; the wake fd number can be signalled from any thread. */
import { loadNative } from './native.js';
import { sysError } from './syserror.js';
import type { Poller, TunQueue, UdpBind } from './types.js';
import { checkInt } from './validate.js';

class NativePoller implements Poller {
  private readonly native = loadNative();
  private closed = false;

  constructor(
    private readonly tunFd: number,
    private readonly udpFd: number,
    private readonly wakeFd: number,
  ) {}

  wait(timeoutMs: number): number {
    const r = this.closed ? 0 : this.native.pollWait(this.tunFd, this.udpFd, this.wakeFd, timeoutMs);
    if (r < 0)
      throw sysError(
        'VXTUN_ERR_SYSCALL',
        `polling fds ${this.tunFd}/${this.udpFd}/${this.wakeFd}`,
        r,
        'one of them was closed; restart vxtun',
      );
    return r;
  }

  wake(): void {
    signalWake(this.wakeFd);
  }

  /** The poller owns no fd: the TUN queue, the socket and the wake fd are closed by their owners. */
  close(): void {
    this.closed = true;
  }
}

export function createPoller(tun: TunQueue, udp: UdpBind, wakeFd: number): Poller {
  return new NativePoller(
    checkInt('tun.fd', tun?.fd, 0, 0x7fffffff),
    checkInt('udp.fd', udp?.fd, 0, 0x7fffffff),
    checkInt('wakeFd', wakeFd, 0, 0x7fffffff),
  );
}

/** A non-blocking eventfd; pass its number to worker threads, signal it with signalWake, close it with closeFd. */
export function createWakeFd(): number {
  const fd = loadNative().eventfdCreate();
  if (fd < 0) throw sysError('VXTUN_ERR_SYSCALL', 'creating an eventfd', fd, 'the process may be out of file descriptors (ulimit -n)');
  return fd;
}

/** Wakes the thread waiting on fd (one wait() returns READY_WAKE). Safe from any thread. */
export function signalWake(fd: number): void {
  const r = loadNative().eventfdSignal(checkInt('wake fd', fd, 0, 0x7fffffff));
  if (r < 0) throw sysError('VXTUN_ERR_SYSCALL', `signalling wake fd ${fd}`, r, 'the fd was already closed');
}

export function closeFd(fd: number): void {
  const r = loadNative().closeFd(checkInt('fd', fd, 0, 0x7fffffff));
  if (r < 0) throw sysError('VXTUN_ERR_SYSCALL', `closing fd ${fd}`, r, 'it was already closed');
}
