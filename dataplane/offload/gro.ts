/**
 * TCP receive coalescing (wire -> TUN direction): consecutive segments of one flow become one GSO packet, written
 * to the TUN with a virtio-net header so the kernel's stack takes them in one go. Rules follow the kernel's
 * tcp_gro_receive() as wireguard-go applies them (tun/offload_linux.go): same addresses, ports and ACK,
 * contiguous sequence numbers, equal segment sizes except a smaller last one, PSH only at the end, equal IP
 * header fields (TOS/TTL/DF, IPv6 first word and hop limit) and TCP options, no IPv4 options, no IPv6
 * extension headers, no fragments, total length <= 65535. A flow appends only to its newest packet, and any
 * other TCP packet of the flow (SYN, FIN, RST, URG, pure ACK) ends its coalescing so nothing is reordered.
 *
 * UDP (optional, for a TUN that takes USO, Linux 6.2+): consecutive datagrams of one flow with the same payload
 * size (a smaller last one ends the run) become one UDP_L4 GSO packet, which the kernel splits again before any
 * socket sees it; up to 64 datagrams, as for a UDP_SEGMENT send.
 *
 * Inner checksums: a coalesced packet is written with NEEDS_CSUM, which the kernel treats as locally made and
 * never verifies. The receive path (rx.ts) therefore verifies every inner checksum before add() and drops what
 * fails (offload/partial.ts; a same-machine kernel peer's partial checksums are recognised there).
 */
import { bytesEqual, copyPayload, readU16, writeU16 } from '../packet/bytes.js';
import { fold, pseudoHeaderSum } from '../packet/checksum.js';
import { tupleHash } from '../packet/flowhash.js';
import { IpInfo, IPPROTO_TCP, IPPROTO_UDP, parseIp, setIpLength } from '../packet/ip.js';
import { UDP_CSUM, UDP_HLEN, UDP_LENGTH, UDP_MAX_SEGMENTS } from '../packet/udp.js';
import { TCP_ACK, TCP_ACK_FLAG, TCP_CSUM, TCP_FLAGS, TCP_HLEN_MAX, TCP_HLEN_MIN, TCP_PSH, tcpHeaderLen, tcpSeq } from '../packet/tcp.js';
import { IPV4_FLAGS_FRAG, IPV4_TOS, IPV4_TTL } from '../packet/ipv4.js';
import { IPV6_HOP_LIMIT } from '../packet/ipv6.js';
import { VIRTIO_NET_HDR_LEN, VirtioFlag, VirtioGso, VirtioHdr, writeVirtioHdr, writeZeroVirtioHdr } from '../packet/virtio.js';
import type { PacketBatch } from '../sys/types.js';

const MAX_IP_LEN = 65535;
const MAX_SLOTS = 1024;
/** Payload copies a deferring coalescer collects before it runs them (one copier call per batch). */
const MAX_PENDING_COPIES = 512;

/**
 * Runs list[3k] = source offset, list[3k+1] = destination offset, list[3k+2] = length, for k < count:
 * dst[dstOff, dstOff+len) = src[srcOff, srcOff+len). The packet path passes the shim's copyRanges (one call
 * for a whole batch); without one the coalescer copies each payload as it appends it.
 */
export type RangeCopier = (src: Uint8Array, dst: Uint8Array, list: Int32Array, count: number) => void;

export interface CoalescerOptions {
  /** Flows tracked at once per batch (default 64). */
  maxFlows?: number;
  /**
   * Run appended payload copies in one call per batch, when finish() runs (or when the pending list fills or the
   * source buffer changes): `src` must stay unchanged until then, and `out` holds only the headers of an appended
   * packet before that.
   */
  copier?: RangeCopier | null;
  /** Coalesce UDP datagrams into UDP_L4 GSO packets too (only for a TUN that accepted TUN_F_USO4/6). */
  udp?: boolean;
  /**
   * The overlay MTU (0: none). A TCP packet larger than it arrives only from a same-machine kernel VXLAN peer whose
   * veth passed its super-packet unsplit; it is handed on as a TCP GSO packet of MTU-sized segments, since a
   * container's link (MTU = overlay MTU) could not carry it whole.
   */
  mtu?: number;
}

export class Coalescer {
  readonly maxFlows: number;
  readonly udp: boolean;
  readonly mtu: number;
  /** Packets dropped because they do not fit a slot of the output batch. */
  oversize: number;
  private readonly flowHashes: Uint32Array;
  private readonly flowSlots: Int32Array;
  private flowCount: number;
  // Per output slot, valid for slots this coalescer created since the batch was last emptied.
  private readonly merged: Int32Array;
  private readonly gsoSize: Int32Array;
  private readonly nextSeq: Uint32Array;
  private readonly ipHlen: Uint8Array;
  private readonly tcpHlen: Uint8Array;
  private readonly family: Uint8Array;
  private readonly proto: Uint8Array;
  /** 1 once nothing may be appended (PSH, a short segment, a failed checksum, 64 UDP datagrams, or not a candidate). */
  private readonly closed: Uint8Array;
  private readonly ip: IpInfo;
  private readonly hdr: VirtioHdr;
  private readonly copier: RangeCopier | null;
  private readonly copies: Int32Array;
  private copyCount: number;
  private copySrc: Uint8Array | null;
  private copyDst: Uint8Array | null;

  constructor(opts: CoalescerOptions = {}) {
    const maxFlows = opts.maxFlows ?? 64;
    this.maxFlows = maxFlows;
    this.udp = opts.udp ?? false;
    this.mtu = opts.mtu ?? 0;
    this.copier = opts.copier ?? null;
    this.copies = new Int32Array(3 * MAX_PENDING_COPIES);
    this.copyCount = 0;
    this.copySrc = null;
    this.copyDst = null;
    this.oversize = 0;
    this.flowHashes = new Uint32Array(maxFlows);
    this.flowSlots = new Int32Array(maxFlows);
    this.flowCount = 0;
    this.merged = new Int32Array(MAX_SLOTS);
    this.gsoSize = new Int32Array(MAX_SLOTS);
    this.nextSeq = new Uint32Array(MAX_SLOTS);
    this.ipHlen = new Uint8Array(MAX_SLOTS);
    this.tcpHlen = new Uint8Array(MAX_SLOTS);
    this.family = new Uint8Array(MAX_SLOTS);
    this.proto = new Uint8Array(MAX_SLOTS);
    this.closed = new Uint8Array(MAX_SLOTS);
    this.ip = new IpInfo();
    this.hdr = new VirtioHdr();
  }

  /**
   * Takes the inner IP packet src[off, off+len) and either appends its payload to a packet of the same flow in
   * `out` or copies it into the next slot (virtio header space first; offsets/lengths include the header).
   * Returns false, taking nothing, when it needs a new slot and `out` is full: finish, write and empty `out`,
   * then add again. Never throws on packet contents; bytes that are not IP are passed through as they are.
   * Throws RangeError only for a range outside src (a caller bug). A caller that has already parsed the packet
   * (parseIp of the packet at src[off], whose total length is len) passes that result as `parsed` so it is not parsed twice.
   */
  add(src: Uint8Array, off: number, len: number, out: PacketBatch, parsed: IpInfo | null = null): boolean {
    if (off < 0 || len < 0 || off + len > src.length)
      throw new RangeError(`packet [${off}, ${off + len}) outside a ${src.length}-byte buffer`);
    const ip = parsed ?? parseIp(src, off, len, this.ip);
    let candidate = false;
    let hash = 0;
    let flow = -1;
    let l4 = 0;
    let thl = 0;
    let dataLen = 0;
    if (ip !== null && ip.proto === IPPROTO_TCP && !ip.fragment && (ip.family === 6 || ip.headerLen === 20)) {
      l4 = off + ip.headerLen;
      thl = ip.totalLen >= ip.headerLen + TCP_HLEN_MIN ? tcpHeaderLen(src, l4) : 0;
      if (thl >= TCP_HLEN_MIN && thl <= TCP_HLEN_MAX && ip.headerLen + thl <= ip.totalLen) {
        hash = tupleHash(src, ip.srcOff, ip.addrLen, IPPROTO_TCP, l4);
        flow = this.findFlow(hash, src, off, ip, l4, out);
        const flags = src[l4 + TCP_FLAGS];
        dataLen = ip.totalLen - ip.headerLen - thl;
        candidate = (flags === TCP_ACK_FLAG || flags === (TCP_ACK_FLAG | TCP_PSH)) && dataLen > 0;
        if (candidate && flow >= 0 && this.append(this.flowSlots[flow], src, off, ip, l4, thl, dataLen, out)) return true;
        if (!candidate && flow >= 0) this.removeFlow(flow);
      }
    } else if (
      this.udp &&
      ip !== null &&
      ip.proto === IPPROTO_UDP &&
      !ip.fragment &&
      (ip.family === 6 || ip.headerLen === 20) &&
      ip.totalLen >= ip.headerLen + UDP_HLEN
    ) {
      l4 = off + ip.headerLen;
      thl = UDP_HLEN;
      dataLen = ip.totalLen - ip.headerLen - UDP_HLEN;
      hash = tupleHash(src, ip.srcOff, ip.addrLen, IPPROTO_UDP, l4);
      flow = this.findFlow(hash, src, off, ip, l4, out);
      candidate = dataLen > 0 && readU16(src, l4 + UDP_LENGTH) === ip.totalLen - ip.headerLen;
      if (candidate && flow >= 0 && this.appendUdp(this.flowSlots[flow], src, off, ip, l4, dataLen, out)) return true;
      // An empty or odd datagram ends the flow's run, so a later one is not merged ahead of it.
      if (!candidate && flow >= 0) this.removeFlow(flow);
    }
    const copyLen = ip === null ? len : ip.totalLen;
    if (VIRTIO_NET_HDR_LEN + copyLen > out.slotSize) {
      this.oversize++;
      return true;
    }
    if (out.count >= out.capacity) return false;
    const i = out.count++;
    const start = out.slotStart(i);
    writeZeroVirtioHdr(out.buf, start);
    copyPayload(src, off, out.buf, start + VIRTIO_NET_HDR_LEN, copyLen);
    out.offsets[i] = start;
    out.lengths[i] = VIRTIO_NET_HDR_LEN + copyLen;
    this.merged[i] = 0;
    if (ip !== null && ip.proto === IPPROTO_TCP && dataLen > 0 && this.mtu > 0 && ip.totalLen > this.mtu) {
      // Written by finish() as a GSO packet whose segments fit the MTU (the kernel splits it, FIN/PSH on the last
      // segment only); nothing may join it.
      this.merged[i] = 1;
      this.gsoSize[i] = this.mtu - ip.headerLen - thl;
      this.closed[i] = 1;
      this.ipHlen[i] = ip.headerLen;
      this.tcpHlen[i] = thl;
      this.family[i] = ip.family;
      this.proto[i] = IPPROTO_TCP;
      return true;
    }
    // Closed until known to be a candidate, stored before the test: a store only non-candidates make would be a
    // path optimized code built on a run of candidates (small UDP) has never taken, and the first ping would
    // throw that code away.
    this.closed[i] = 1;
    if (!candidate || ip === null) return true;
    const tcp = ip.proto === IPPROTO_TCP;
    this.closed[i] = tcp ? (src[l4 + TCP_FLAGS] & TCP_PSH) >>> 3 : 0;
    this.gsoSize[i] = dataLen;
    this.nextSeq[i] = tcp ? (tcpSeq(src, l4) + dataLen) >>> 0 : 0;
    this.ipHlen[i] = ip.headerLen;
    this.tcpHlen[i] = thl;
    this.family[i] = ip.family;
    this.proto[i] = ip.proto;
    if (flow >= 0) this.flowSlots[flow] = i;
    else if (this.flowCount < this.maxFlows) {
      this.flowHashes[this.flowCount] = hash;
      this.flowSlots[this.flowCount++] = i;
    }
    return true;
  }

  /**
   * Runs the payload copies still pending, then writes the virtio header of every coalesced packet in `out`:
   * NEEDS_CSUM + TCP or UDP_L4 GSO fields, its IP (and UDP) length fields, and only the pseudo-header sum in the
   * transport checksum field. Single packets keep the all-zero header add() wrote. Then forgets all flows (the
   * batch can no longer be appended to).
   */
  finish(out: PacketBatch): void {
    this.runCopies();
    const buf = out.buf;
    const hdr = this.hdr;
    for (let i = 0; i < out.count; i++) {
      if (this.merged[i] === 0) continue;
      const pkt = out.offsets[i] + VIRTIO_NET_HDR_LEN;
      const total = out.lengths[i] - VIRTIO_NET_HDR_LEN;
      const family = this.family[i] as 4 | 6;
      const iph = this.ipHlen[i];
      const tcp = this.proto[i] === IPPROTO_TCP;
      setIpLength(buf, pkt, family, iph, total);
      if (!tcp) writeU16(buf, pkt + iph + UDP_LENGTH, total - iph);
      hdr.flags = VirtioFlag.NEEDS_CSUM;
      hdr.gsoType = tcp ? (family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6) : VirtioGso.UDP_L4;
      hdr.hdrLen = iph + this.tcpHlen[i];
      hdr.gsoSize = this.gsoSize[i];
      hdr.csumStart = iph;
      hdr.csumOffset = tcp ? TCP_CSUM : UDP_CSUM;
      writeVirtioHdr(buf, out.offsets[i], hdr);
      writeU16(buf, pkt + iph + hdr.csumOffset, fold(pseudoHeaderSum(buf, pkt, family, this.proto[i], total - iph)));
      this.merged[i] = 0;
    }
    this.reset();
  }

  /** Forgets all flows, and payload copies not yet run (their packets are being thrown away). */
  reset(): void {
    this.flowCount = 0;
    this.copyCount = 0;
  }

  private runCopies(): void {
    if (this.copyCount === 0) return;
    this.copier!(this.copySrc!, this.copyDst!, this.copies, this.copyCount);
    this.copyCount = 0;
  }

  private copyLater(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
    if (this.copyCount === MAX_PENDING_COPIES || (this.copyCount > 0 && (src !== this.copySrc || dst !== this.copyDst))) this.runCopies();
    this.copySrc = src;
    this.copyDst = dst;
    const k = 3 * this.copyCount++;
    this.copies[k] = srcOff;
    this.copies[k + 1] = dstOff;
    this.copies[k + 2] = len;
  }

  private findFlow(hash: number, src: Uint8Array, off: number, ip: IpInfo, l4: number, out: PacketBatch): number {
    for (let f = this.flowCount - 1; f >= 0; f--) {
      if (this.flowHashes[f] !== hash) continue;
      const i = this.flowSlots[f];
      if (i >= out.count || this.family[i] !== ip.family || this.proto[i] !== ip.proto) continue;
      const pkt = out.offsets[i] + VIRTIO_NET_HDR_LEN;
      const addrAt = pkt + (ip.srcOff - off);
      if (bytesEqual(src, ip.srcOff, out.buf, addrAt, 2 * ip.addrLen) && bytesEqual(src, l4, out.buf, pkt + this.ipHlen[i], 4)) return f;
    }
    return -1;
  }

  private removeFlow(f: number): void {
    this.flowCount--;
    this.flowHashes[f] = this.flowHashes[this.flowCount];
    this.flowSlots[f] = this.flowSlots[this.flowCount];
  }

  private append(i: number, src: Uint8Array, off: number, ip: IpInfo, l4: number, thl: number, dataLen: number, out: PacketBatch): boolean {
    const buf = out.buf;
    const pkt = out.offsets[i] + VIRTIO_NET_HDR_LEN;
    const cur = out.lengths[i] - VIRTIO_NET_HDR_LEN;
    const iph = ip.headerLen;
    if (this.closed[i] !== 0 || this.ipHlen[i] !== iph || this.tcpHlen[i] !== thl || dataLen > this.gsoSize[i]) return false;
    if (tcpSeq(src, l4) !== this.nextSeq[i] || cur + dataLen > MAX_IP_LEN || VIRTIO_NET_HDR_LEN + cur + dataLen > out.slotSize)
      return false;
    // Same ACK number, same TCP options.
    if (
      !bytesEqual(src, l4 + TCP_ACK, buf, pkt + iph + TCP_ACK, 4) ||
      !bytesEqual(src, l4 + TCP_HLEN_MIN, buf, pkt + iph + TCP_HLEN_MIN, thl - TCP_HLEN_MIN)
    )
      return false;
    if (!sameIpFields(src, off, buf, pkt, ip.family)) return false;
    if (this.copier !== null) this.copyLater(src, l4 + thl, buf, pkt + cur, dataLen);
    else copyPayload(src, l4 + thl, buf, pkt + cur, dataLen);
    out.lengths[i] += dataLen;
    this.nextSeq[i] = (this.nextSeq[i] + dataLen) >>> 0;
    this.merged[i]++;
    if (dataLen < this.gsoSize[i]) this.closed[i] = 1;
    if ((src[l4 + TCP_FLAGS] & TCP_PSH) !== 0) {
      buf[pkt + iph + TCP_FLAGS] |= TCP_PSH;
      this.closed[i] = 1;
    }
    return true;
  }

  private appendUdp(i: number, src: Uint8Array, off: number, ip: IpInfo, l4: number, dataLen: number, out: PacketBatch): boolean {
    const buf = out.buf;
    const pkt = out.offsets[i] + VIRTIO_NET_HDR_LEN;
    const cur = out.lengths[i] - VIRTIO_NET_HDR_LEN;
    if (this.closed[i] !== 0 || this.ipHlen[i] !== ip.headerLen || dataLen > this.gsoSize[i] || this.merged[i] + 1 >= UDP_MAX_SEGMENTS)
      return false;
    if (cur + dataLen > MAX_IP_LEN || VIRTIO_NET_HDR_LEN + cur + dataLen > out.slotSize || !sameIpFields(src, off, buf, pkt, ip.family))
      return false;
    if (this.copier !== null) this.copyLater(src, l4 + UDP_HLEN, buf, pkt + cur, dataLen);
    else copyPayload(src, l4 + UDP_HLEN, buf, pkt + cur, dataLen);
    out.lengths[i] += dataLen;
    this.merged[i]++;
    if (dataLen < this.gsoSize[i]) this.closed[i] = 1;
    return true;
  }
}

/** Header fields a merged packet keeps for all its segments: TOS/TTL/DF (IPv4), first word and hop limit (IPv6). */
function sameIpFields(src: Uint8Array, off: number, buf: Uint8Array, pkt: number, family: 4 | 6): boolean {
  if (family === 4) {
    return (
      src[off + IPV4_TOS] === buf[pkt + IPV4_TOS] &&
      src[off + IPV4_TTL] === buf[pkt + IPV4_TTL] &&
      src[off + IPV4_FLAGS_FRAG] >>> 5 === buf[pkt + IPV4_FLAGS_FRAG] >>> 5
    );
  }
  // Version, traffic class and flow label, then the hop limit.
  return bytesEqual(src, off, buf, pkt, 4) && src[off + IPV6_HOP_LIMIT] === buf[pkt + IPV6_HOP_LIMIT];
}
