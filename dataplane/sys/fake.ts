/**
 * Fakes of the sys boundary for unit tests of the worker: a TUN queue backed by arrays, two UDP binds wired
 * back to back, and a poller over them. They copy bytes exactly like the real shim (slot + headroom, metadata
 * arrays), so code that passes against them makes the same assumptions it would make against the kernel.
 */
import { READY_TUN, READY_UDP, READY_WAKE, type PacketBatch, type Poller, type TunQueue, type UdpBind } from './types.js';

function copyIn(batch: PacketBatch, i: number, headroom: number, pkt: Uint8Array): void {
  const off = batch.slotStart(i) + headroom;
  const len = Math.min(pkt.length, batch.slotSize - headroom);
  batch.buf.set(pkt.subarray(0, len), off);
  batch.offsets[i] = off;
  batch.lengths[i] = len;
}

function copyOut(batch: PacketBatch, i: number, from = 0, len = batch.lengths[i] - from): Buffer {
  const start = batch.offsets[i] + from;
  return Buffer.from(batch.buf.subarray(start, start + len));
}

/** A TUN queue: the test pushes packets the "kernel" delivers (inbound) and reads what was written (outbound). */
export class FakeTunQueue implements TunQueue {
  readonly fd = -1;
  readonly vnetHdr: boolean;
  readonly offloadFlags: number;
  readonly inbound: Buffer[] = [];
  readonly outbound: Buffer[] = [];
  /** Writes beyond this many are refused, as a full kernel queue would (ENOBUFS). */
  writeRoom = Number.POSITIVE_INFINITY;
  closed = false;

  constructor(opts: { vnetHdr?: boolean; offloadFlags?: number } = {}) {
    this.vnetHdr = opts.vnetHdr ?? false;
    this.offloadFlags = this.vnetHdr ? (opts.offloadFlags ?? 0x07) : 0;
  }

  /** Queues a packet for read(); with vnetHdr it must start with the 10-byte virtio_net_hdr. */
  push(pkt: Uint8Array): void {
    this.inbound.push(Buffer.from(pkt));
  }

  read(batch: PacketBatch, headroom: number): number {
    let n = 0;
    while (n < batch.capacity && this.inbound.length > 0) copyIn(batch, n++, headroom, this.inbound.shift()!);
    batch.count = n;
    return n;
  }

  write(batch: PacketBatch, count: number): number {
    let n = 0;
    for (; n < count && this.writeRoom > 0; n++, this.writeRoom--) this.outbound.push(copyOut(batch, n));
    return n;
  }

  close(): void {
    this.closed = true;
  }
}

interface Datagram {
  bytes: Buffer;
  segSize: number;
  from: FakeUdpBind;
}

/** One end of a back-to-back UDP pair. Every message sent reaches the peer, whatever its destination address. */
export class FakeUdpBind implements UdpBind {
  readonly fd = -1;
  readonly family: 4 | 6;
  gso: boolean;
  readonly gro: boolean;
  readonly overflows = 0;
  /** Messages longer than the batch slot: cut to it, as the kernel does with MSG_TRUNC. */
  truncated = 0;
  readonly localPort: number;
  /** This end's address bytes (4 or 16), reported as the source of what it sends. */
  readonly address: Uint8Array;
  /** Every datagram put on the "wire" with its destination, after GSO segmentation. */
  readonly wire: { bytes: Buffer; family: number; addr: Buffer; port: number }[] = [];
  /** The next GSO send fails like a device without checksum offload (EIO): gso turns off and the send is resent split. */
  failGso = false;
  peer: FakeUdpBind | undefined;
  closed = false;
  private readonly queue: Datagram[] = [];

  constructor(family: 4 | 6, address: Uint8Array, port: number, gso: boolean, gro: boolean) {
    this.family = family;
    this.address = address;
    this.localPort = port;
    this.gso = gso;
    this.gro = gro;
  }

  /** Datagrams waiting to be received. */
  get pending(): number {
    return this.queue.length;
  }

  recv(batch: PacketBatch, headroom: number): number {
    let n = 0;
    while (n < batch.capacity && this.queue.length > 0) {
      const d = this.queue.shift()!;
      if (d.bytes.length > batch.slotSize - headroom) this.truncated++;
      copyIn(batch, n, headroom, d.bytes);
      batch.segSizes[n] = d.segSize;
      batch.families[n] = d.from.family;
      batch.addrs.fill(0, 16 * n, 16 * n + 16);
      batch.addrs.set(d.from.address, 16 * n);
      batch.ports[n] = d.from.localPort;
      n++;
    }
    batch.count = n;
    return n;
  }

  send(batch: PacketBatch, count: number): number {
    if (this.failGso && this.gso) {
      this.failGso = false;
      this.gso = false;
    }
    for (let i = 0; i < count; i++) {
      const seg = batch.segSizes[i];
      const len = batch.lengths[i];
      const addr = Buffer.from(batch.addrs.subarray(16 * i, 16 * i + (batch.families[i] === 4 ? 4 : 16)));
      const segs = seg > 0 && seg < len ? Math.ceil(len / seg) : 1;
      const step = segs > 1 ? seg : len;
      for (let s = 0; s < segs; s++) {
        const bytes = copyOut(batch, i, s * step, Math.min(step, len - s * step));
        this.wire.push({ bytes, family: batch.families[i], addr, port: batch.ports[i] });
        if (this.peer && !(segs > 1 && this.peer.gro)) this.peer.queue.push({ bytes, segSize: 0, from: this });
      }
      // A GRO receiver gets the super-datagram back in one piece, as the kernel would coalesce it.
      if (this.peer && segs > 1 && this.peer.gro) this.peer.queue.push({ bytes: copyOut(batch, i), segSize: seg, from: this });
    }
    return count;
  }

  close(): void {
    this.closed = true;
  }
}

/** Two binds wired back to back: a at 192.0.2.1:8472 (or 2001:db8::1), b at .2. */
export function fakeUdpPair(opts: { family?: 4 | 6; gso?: boolean; gro?: boolean } = {}): [FakeUdpBind, FakeUdpBind] {
  const family = opts.family ?? 4;
  const addr = (last: number): Uint8Array => {
    const a = family === 4 ? Uint8Array.of(192, 0, 2, 0) : Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0));
    a[a.length - 1] = last;
    return a;
  };
  const a = new FakeUdpBind(family, addr(1), 8472, opts.gso ?? true, opts.gro ?? true);
  const b = new FakeUdpBind(family, addr(2), 8472, opts.gso ?? true, opts.gro ?? true);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Reports what is ready right now; it never blocks (a test drives the loop), so wait() returns 0 when idle. */
export class FakePoller implements Poller {
  waits = 0;
  closed = false;
  private woken = false;

  constructor(
    private readonly tun: FakeTunQueue,
    private readonly udp: FakeUdpBind,
  ) {}

  wait(_timeoutMs: number): number {
    this.waits++;
    let ready = (this.tun.inbound.length > 0 ? READY_TUN : 0) | (this.udp.pending > 0 ? READY_UDP : 0);
    if (this.woken) ready |= READY_WAKE;
    this.woken = false;
    return ready;
  }

  wake(): void {
    this.woken = true;
  }

  close(): void {
    this.closed = true;
  }
}
