/** UDP socket for VXLAN: batched receive (recvmmsg, UDP_GRO) and send (sendmmsg, UDP_SEGMENT with fallback). */
import { constants } from 'node:os';
import { VxtunError } from '../errors.js';
import { bindBatch } from './batch-handle.js';
import { loadNative, ST_ERRNO, ST_OVFL, ST_RESUME, ST_TRUNC, UDP_FLAG_GRO, UDP_FLAG_NO_CHECK, UDP_FLAG_REUSEPORT } from './native.js';
import { sysError } from './syserror.js';
import type { PacketBatch, UdpBind } from './types.js';
import { addressBytes, checkBool, checkFamily, checkInt, invalid } from './validate.js';

export interface UdpOptions {
  family: 4 | 6;
  /** Local address to bind ('0.0.0.0' / '::' for any). */
  address: string;
  /** Local port; 0 lets the kernel pick (see localPort). */
  port: number;
  reusePort: boolean;
  /** SO_RCVBUF/SO_SNDBUF size (forced past rmem_max/wmem_max when we have CAP_NET_ADMIN); 0 keeps the default. */
  bufferBytes: number;
  /** Ask for UDP_GRO; `gro` on the bind says whether the kernel agreed. */
  gro: boolean;
  /**
   * IPv4 only: send with a zero UDP checksum (SO_NO_CHECK), as Linux VXLAN does with `noudpcsum`. The fault
   * suite's relay uses it; the dataplane does not. Default false.
   */
  zeroChecksum?: boolean;
}

const { EIO, EINVAL, EFAULT } = constants.errno;

export class NativeUdpBind implements UdpBind {
  readonly fd: number;
  readonly family: 4 | 6;
  /** Starts as "UDP_SEGMENT is available"; turns false for good when the egress device refuses GSO (EIO). */
  gso: boolean;
  readonly gro: boolean;
  /** The bound port (useful after binding port 0). */
  readonly localPort: number;
  truncated = 0;
  overflows = 0;
  private closed = false;
  private readonly native = loadNative();

  constructor(fd: number, family: 4 | 6, gso: boolean, gro: boolean, localPort: number) {
    this.fd = fd;
    this.family = family;
    this.gso = gso;
    this.gro = gro;
    this.localPort = localPort;
  }

  recv(batch: PacketBatch, headroom: number): number {
    const b = bindBatch(this.native, batch);
    const n = this.native.udpRecv(this.fd, b.handle, headroom);
    if (n < 0) throw this.failure('receiving on', n);
    this.truncated += b.status[ST_TRUNC];
    this.overflows = b.status[ST_OVFL] >>> 0;
    batch.count = n;
    return n;
  }

  send(batch: PacketBatch, count: number): number {
    const b = bindBatch(this.native, batch);
    let sent = this.native.udpSend(this.fd, b.handle, 0, count, this.gso ? 1 : 0);
    if (sent >= 0 && b.status[ST_ERRNO] === EIO && this.gso && b.status[ST_RESUME] < count) {
      // The egress device lacks checksum offload, which UDP_SEGMENT requires: cut datagrams here from now on.
      this.gso = false;
      const more = this.native.udpSend(this.fd, b.handle, b.status[ST_RESUME], count, 0);
      sent = more < 0 ? more : sent + more;
    }
    if (sent < 0) throw this.failure('sending on', sent);
    return sent;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.closeFd(this.fd);
  }

  private failure(what: string, negErrno: number): VxtunError {
    if (negErrno === -EINVAL) return invalid(`UDP ${what} fd ${this.fd}: headroom/count does not fit the batch`);
    if (negErrno === -EFAULT) return invalid(`UDP ${what} fd ${this.fd}: a message's offset/length/family is outside the batch`);
    return sysError('VXTUN_ERR_SYSCALL', `${what} UDP socket fd ${this.fd}`, negErrno, 'the socket was closed; restart vxtun');
  }
}

/** Opens a non-blocking, close-on-exec UDP socket bound to address:port (IPv6 sockets are IPv6-only). */
export function openUdp(opts: UdpOptions): NativeUdpBind {
  const family = checkFamily('family', opts?.family);
  const addr = addressBytes('address', family, opts.address);
  const port = checkInt('port', opts.port, 0, 65535);
  const reusePort = checkBool('reusePort', opts.reusePort);
  const bufferBytes = checkInt('bufferBytes', opts.bufferBytes, 0, 0x7fffffff);
  const gro = checkBool('gro', opts.gro);
  const zeroChecksum = checkBool('zeroChecksum', opts.zeroChecksum ?? false);
  if (zeroChecksum && family !== 4) throw invalid('zeroChecksum is for IPv4 only: IPv6 UDP must carry a checksum');
  const native = loadNative();
  const info = new Int32Array(3);
  const flags = (reusePort ? UDP_FLAG_REUSEPORT : 0) | (gro ? UDP_FLAG_GRO : 0) | (zeroChecksum ? UDP_FLAG_NO_CHECK : 0);
  const fd = native.udpOpen(family, addr, port, flags, bufferBytes, info);
  if (fd < 0) {
    throw sysError(
      'VXTUN_ERR_UDP_SOCKET',
      `binding UDP ${family === 6 ? `[${opts.address}]` : opts.address}:${port}`,
      fd,
      'check that the address belongs to this host and that no other process holds the port without SO_REUSEPORT',
    );
  }
  return new NativeUdpBind(fd, family, info[1] === 1, info[2] === 1, info[0]);
}
