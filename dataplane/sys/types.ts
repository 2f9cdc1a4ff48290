/**
 * The two I/O boundaries of a queue worker. The worker takes one of each in its constructor so unit tests
 * can hand it fakes (dataplane/sys/fake.ts); netns tests use the real shim (dataplane/sys/tun.ts, udp.ts).
 * Every method moves a batch; none throws on a per-packet condition (those are counted by the caller).
 */

/** A batch of packets in one Buffer. Slot i spans [i*slotSize, (i+1)*slotSize). */
export class PacketBatch {
  readonly buf: Buffer;
  readonly slotSize: number;
  readonly capacity: number;
  /** Byte offset into buf where packet i starts. */
  readonly offsets: Int32Array;
  /** Length in bytes of packet i. */
  readonly lengths: Int32Array;
  /** UDP: GSO segment size of message i (0 = a single datagram). TUN: unused. */
  readonly segSizes: Int32Array;
  /** UDP: address family of the peer of message i (4 or 6). */
  readonly families: Uint8Array;
  /** UDP: peer address of message i, 16 bytes per slot; IPv4 uses the first 4. */
  readonly addrs: Uint8Array;
  /** UDP: peer port of message i. */
  readonly ports: Uint16Array;
  /** Number of valid entries. */
  count: number;

  /** buf: an existing buffer to describe (a view batch: offsets may point anywhere in it); default a new one. */
  constructor(capacity: number, slotSize: number, buf?: Buffer) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError(`capacity ${capacity} not in 1..1024`);
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > 1 << 20) throw new RangeError(`slotSize ${slotSize} not in 64..1MiB`);
    this.buf = buf ?? Buffer.alloc(capacity * slotSize);
    this.slotSize = slotSize;
    this.capacity = capacity;
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.segSizes = new Int32Array(capacity);
    this.families = new Uint8Array(capacity);
    this.addrs = new Uint8Array(capacity * 16);
    this.ports = new Uint16Array(capacity);
    this.count = 0;
  }

  slotStart(i: number): number {
    return i * this.slotSize;
  }
}

/** TUN_F_* offload bits (linux/if_tun.h) a TunQueue reports in `offloadFlags`; USO came with Linux 6.2. */
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

export interface TunQueue {
  readonly fd: number;
  /** True when every packet read or written is preceded by a 10-byte virtio_net_hdr. */
  readonly vnetHdr: boolean;
  /** The TUN_F_* offload flags the kernel accepted (0 when vnetHdr is false). */
  readonly offloadFlags: number;
  /**
   * Reads up to batch.capacity packets without blocking (stops at EAGAIN). Packet i lands at
   * batch.slotStart(i) + headroom; sets offsets[i], lengths[i] and batch.count. Returns the count (0 if none).
   * headroom + the largest packet must fit in slotSize.
   */
  read(batch: PacketBatch, headroom: number): number;
  /** Writes packets 0..count-1 (offsets/lengths). Returns how many the kernel took; the rest were dropped (EAGAIN/ENOBUFS). */
  write(batch: PacketBatch, count: number): number;
  close(): void;
}

/**
 * A queue of the tunnel-GSO TAP (Linux 6.17+): one whole VXLAN super-packet per write, as an Ethernet frame behind a
 * 24-byte virtio_net_hdr_v1_hash_tunnel; the kernel forwards it to the underlay, where the NIC or veth segments it.
 */
export interface TunnelWriter {
  readonly fd: number;
  /** Writes bytes offset..offset+length-1 of the batch's buffer as one frame. Returns bytes written or -errno. */
  writeAt(batch: PacketBatch, offset: number, length: number): number;
  close(): void;
}

export interface UdpBind {
  readonly fd: number;
  readonly family: 4 | 6;
  /** The port the socket is bound to (the outer source port of what it sends). */
  readonly localPort: number;
  /** UDP_SEGMENT sends are available. */
  readonly gso: boolean;
  /** UDP_GRO receive is enabled: a message may hold several datagrams of segSizes[i] bytes (the last may be shorter). */
  readonly gro: boolean;
  /**
   * Datagrams the kernel dropped at this socket since it was opened (receive buffer full), as of the last recv
   * that returned a message (SO_RXQ_OVFL): drops after the last message show with the next one.
   */
  readonly overflows: number;
  /** Messages received cut short (MSG_TRUNC) since the socket was opened: the slot was smaller than the message. */
  readonly truncated: number;
  /**
   * Receives up to batch.capacity messages without blocking. Message i lands at batch.slotStart(i) + headroom;
   * sets offsets, lengths, segSizes (0 when not coalesced), families, addrs, ports and count. Returns the count.
   */
  recv(batch: PacketBatch, headroom: number): number;
  /**
   * Sends messages 0..count-1 to families/addrs/ports. A message with segSizes[i] > 0 is sent with UDP_SEGMENT
   * (the kernel cuts it into datagrams of that size; only the last may be shorter). Returns how many messages
   * were sent; a hard error on a GSO message turns GSO off for this bind (gso becomes false) and resends plainly.
   */
  send(batch: PacketBatch, count: number): number;
  close(): void;
}

export const READY_TUN = 1;
export const READY_UDP = 2;
export const READY_WAKE = 4;

/** Waits on a TUN queue, a UDP socket and a wake-up fd; wake() from any thread returns wait() at once. */
export interface Poller {
  /** Returns a bitmask of READY_* (0 on timeout). */
  wait(timeoutMs: number): number;
  /** Safe to call from another thread through the shared handle (see wakeHandle). */
  wake(): void;
  close(): void;
}
