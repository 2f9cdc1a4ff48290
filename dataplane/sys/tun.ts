/** TUN device: open its queues, configure the link, and move packet batches through a queue fd. */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { VxtunError } from '../errors.js';
import { bindBatch } from './batch-handle.js';
import { loadNative, TUN_FLAG_EXCLUSIVE, TUN_FLAG_MULTI_QUEUE, TUN_FLAG_TAP, TUN_FLAG_TUNNEL, TUN_FLAG_VNET_HDR } from './native.js';
import { errnoName, sysError } from './syserror.js';
import type { PacketBatch, TunnelWriter, TunQueue } from './types.js';
import { addressBytes, checkBool, checkFamily, checkIfName, checkInt, formatAddress, invalid } from './validate.js';

export interface TunOptions {
  /** Device name (1-15 chars); 'vx%d' lets the kernel pick the number. */
  name: string;
  multiQueue: boolean;
  /** Prefix every packet with a 10-byte virtio_net_hdr and accept TSO/USO super-packets. */
  vnetHdr: boolean;
  /** Number of queues (fds); more than 1 needs multiQueue. The kernel allows up to 256. */
  queues: number;
  /**
   * Create the device or fail (IFF_TUN_EXCL on the first queue): a device of that name that already exists gives
   * VXTUN_ERR_TUN_OPEN with errno EBUSY instead of being attached to. Default false.
   */
  exclusive?: boolean;
}

export interface OpenedTun {
  /** The name the kernel gave the device. */
  name: string;
  queues: TunQueue[];
}

export interface LinkConfig {
  mtu: number;
  /** At most one IPv4 address (the ioctl interface holds one per device); any number of IPv6. */
  addresses: { family: 4 | 6; addr: string | Uint8Array; prefixLen: number }[];
  /** dst may have host bits set; they are masked off. */
  routes: { family: 4 | 6; dst: string | Uint8Array; prefixLen: number }[];
}

const MAX_QUEUES = 256;
const { EINVAL, EFAULT } = constants.errno;
const IFNAMSIZ = 16;

class NativeTunQueue implements TunQueue {
  readonly fd: number;
  readonly vnetHdr: boolean;
  readonly offloadFlags: number;
  private closed = false;
  private readonly native = loadNative();

  constructor(fd: number, vnetHdr: boolean, offloadFlags: number) {
    this.fd = fd;
    this.vnetHdr = vnetHdr;
    this.offloadFlags = offloadFlags;
  }

  read(batch: PacketBatch, headroom: number): number {
    const b = bindBatch(this.native, batch);
    const n = this.native.tunRead(this.fd, b.handle, headroom);
    if (n < 0) throw this.failure('reading from', n, headroom);
    batch.count = n;
    return n;
  }

  write(batch: PacketBatch, count: number): number {
    const b = bindBatch(this.native, batch);
    const n = this.native.tunWrite(this.fd, b.handle, count);
    if (n < 0) throw this.failure('writing to', n, count);
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.closeFd(this.fd);
  }

  private failure(what: string, negErrno: number, arg: number): VxtunError {
    if (negErrno === -EINVAL) return invalid(`TUN ${what} fd ${this.fd}: headroom/count ${arg} does not fit the batch`);
    if (negErrno === -EFAULT) return invalid(`TUN ${what} fd ${this.fd}: a packet's offset/length lies outside the batch buffer`);
    return sysError(
      'VXTUN_ERR_SYSCALL',
      `${what} TUN queue fd ${this.fd}`,
      negErrno,
      'the TUN device was closed or removed; restart vxtun',
    );
  }
}

/** Opens `queues` fds of one TUN device (non-blocking, close-on-exec). The device disappears when all are closed. */
export function openTun(opts: TunOptions): OpenedTun {
  const name = checkIfName('tun name', opts?.name);
  const multiQueue = checkBool('multiQueue', opts.multiQueue);
  const vnetHdr = checkBool('vnetHdr', opts.vnetHdr);
  const queues = checkInt('queues', opts.queues, 1, MAX_QUEUES);
  const exclusive = checkBool('exclusive', opts.exclusive ?? false);
  if (queues > 1 && !multiQueue) throw invalid(`queues is ${queues} but multiQueue is false: set multiQueue or use 1 queue`);
  const native = loadNative();
  const fds = new Int32Array(queues);
  const nameOut = new Uint8Array(IFNAMSIZ);
  const flags = (multiQueue ? TUN_FLAG_MULTI_QUEUE : 0) | (vnetHdr ? TUN_FLAG_VNET_HDR : 0) | (exclusive ? TUN_FLAG_EXCLUSIVE : 0);
  const offloadFlags = native.tunOpen(name, flags, fds, nameOut);
  if (offloadFlags < 0) {
    throw sysError(
      'VXTUN_ERR_TUN_OPEN',
      `opening TUN ${name} (${queues} queue(s))`,
      offloadFlags,
      'check that /dev/net/tun exists (modprobe tun), that an existing device of that name has the same flags, and that multi-queue is supported',
    );
  }
  const actual = ifName(nameOut);
  return { name: actual, queues: Array.from(fds, (fd) => new NativeTunQueue(fd, vnetHdr, offloadFlags)) };
}

/** Wraps a queue fd opened elsewhere in this process (a worker gets the fd from the main thread). */
export function tunQueueFromFd(fd: number, vnetHdr: boolean, offloadFlags: number): TunQueue {
  return new NativeTunQueue(
    checkInt('fd', fd, 0, 0x7fffffff),
    checkBool('vnetHdr', vnetHdr),
    checkInt('offloadFlags', offloadFlags, 0, 0xffff),
  );
}

class NativeTunnelWriter implements TunnelWriter {
  readonly fd: number;
  private closed = false;
  private readonly native = loadNative();

  constructor(fd: number) {
    this.fd = fd;
  }

  writeAt(batch: PacketBatch, offset: number, length: number): number {
    return this.native.tunWriteAt(this.fd, bindBatch(this.native, batch).handle, offset, length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.closeFd(this.fd);
  }
}

export interface OpenedTunnelTap {
  name: string;
  /** The TAP's own MAC: frames written to it must be addressed to it to be taken for this host. */
  mac: Uint8Array;
  queues: TunnelWriter[];
}

/**
 * Opens `queues` fds of a TAP with the 24-byte tunnel virtio header and UDP-tunnel GSO (Linux 6.17+). Returns null
 * with the reason when the kernel lacks it (TUNSETOFFLOAD refuses the tunnel bits: EINVAL) or the device cannot be
 * made; the caller then sends super-packets as UDP segments.
 */
export function openTunnelTap(name: string, queues: number): OpenedTunnelTap | { reason: string } {
  checkIfName('tap name', name);
  checkInt('queues', queues, 1, MAX_QUEUES);
  const native = loadNative();
  const fds = new Int32Array(queues);
  const nameOut = new Uint8Array(IFNAMSIZ);
  const r = native.tunOpen(name, TUN_FLAG_TAP | TUN_FLAG_TUNNEL | TUN_FLAG_VNET_HDR | TUN_FLAG_MULTI_QUEUE, fds, nameOut);
  if (r < 0) {
    const why = r === -EINVAL ? 'this kernel has no UDP-tunnel GSO on TUN/TAP (Linux 6.17+)' : `opening TAP ${name}: ${errnoName(-r)}`;
    return { reason: why };
  }
  const actual = ifName(nameOut);
  const writers = Array.from(fds, (fd) => new NativeTunnelWriter(fd));
  const mac = new Uint8Array(6);
  const m = native.linkHwAddr(actual, mac);
  const up = m < 0 ? m : native.linkSetUp(actual);
  if (up < 0) {
    for (const w of writers) w.close();
    return { reason: `setting up TAP ${actual}: ${errnoName(-up)}` };
  }
  return { name: actual, mac, queues: writers };
}

/** Wraps a tunnel TAP queue fd opened by the main thread. */
export function tunnelWriterFromFd(fd: number): TunnelWriter {
  return new NativeTunnelWriter(checkInt('fd', fd, 0, 0x7fffffff));
}

/** Sets MTU, addresses, brings the link up, then adds routes (IPv4 routes need the device up). Re-running is harmless. */
export function configureLink(name: string, cfg: LinkConfig): void {
  checkIfName('link name', name);
  const mtu = checkInt('mtu', cfg?.mtu, 68, 65535);
  if (!Array.isArray(cfg.addresses) || !Array.isArray(cfg.routes)) throw invalid('addresses and routes must be arrays');
  const addrs = cfg.addresses.map((a, i) => prefixArg(`addresses[${i}]`, a?.family, a?.addr, a?.prefixLen));
  const routes = cfg.routes.map((r, i) => prefixArg(`routes[${i}]`, r?.family, r?.dst, r?.prefixLen));
  if (addrs.filter((a) => a.family === 4).length > 1) throw invalid('at most one IPv4 address per link');
  const native = loadNative();
  const step = (what: string, r: number): void => {
    if (r < 0)
      throw sysError(
        'VXTUN_ERR_LINK',
        `${what} on ${name}`,
        r,
        'check that the device exists in this network namespace and the values are valid',
      );
  };
  step(`setting MTU ${mtu}`, native.linkSetMtu(name, mtu));
  for (const a of addrs) step(`adding address ${a.text}/${a.prefixLen}`, native.linkAdd(name, a.family, a.bytes, a.prefixLen, 0));
  step('bringing the link up', native.linkSetUp(name));
  for (const r of routes) step(`adding route ${r.text}/${r.prefixLen}`, native.linkAdd(name, r.family, r.bytes, r.prefixLen, 1));
}

/** Whether the link exists in this network namespace, and whether it is up (IFF_UP). */
export function linkState(name: string): 'up' | 'down' | 'gone' {
  checkIfName('link name', name);
  const flags = loadNative().linkFlags(name);
  if (flags === -constants.errno.ENODEV) return 'gone';
  if (flags < 0)
    throw sysError('VXTUN_ERR_LINK', `reading the flags of ${name}`, flags, 'check that the device exists in this network namespace');
  return (flags & 1) !== 0 ? 'up' : 'down';
}

/**
 * Packets the kernel dropped while sending them to the device: for a TUN, packets it could not queue for the
 * reader (the queues were full). Read from /proc/thread-self/net/dev (this thread's namespace); undefined when
 * the device is gone.
 */
export function linkTxDropped(name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/net/dev', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`${name}:`));
  // After "name:": 8 receive fields (bytes packets errs drop fifo frame compressed multicast), then transmit ones.
  const tx = line
    ?.slice(line.indexOf(':') + 1)
    .trim()
    .split(/\s+/)[11];
  return tx === undefined ? undefined : Number(tx);
}

function prefixArg(what: string, family: unknown, text: unknown, prefixLen: unknown) {
  const f = checkFamily(`${what}.family`, family);
  const bytes = addressBytes(`${what} address`, f, text);
  return { family: f, text: formatAddress(f, bytes), bytes, prefixLen: checkInt(`${what}.prefixLen`, prefixLen, 0, f === 4 ? 32 : 128) };
}

/** The NUL-terminated interface name the shim wrote into `out`. */
function ifName(out: Uint8Array): string {
  return Buffer.from(out).toString('latin1').replace(/\0.*$/s, '');
}
