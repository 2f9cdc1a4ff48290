/**
 * TUN -> wire. Packets are read with headroom so the VXLAN + Ethernet headers are written in place in front of
 * the inner packet; TSO super-packets are split into segments laid out back to back, each with its headers, and
 * sent as UDP_SEGMENT messages. Packets go out in the order they were read: a run of in-place packets is flushed
 * before a super-packet is sent, and a change of source socket ends a run too. Within a run, consecutive packets
 * of one length to one peer (a UDP flow, a stream of pure ACKs) are copied back to back and sent as one
 * UDP_SEGMENT message: the kernel walks its stack once per message, so this is what small packets cost.
 */
import { constants } from 'node:os';
import { PacketBatch, type TunnelWriter, type TunQueue, type UdpBind } from './sys/types.js';
import { maxUdpPayload, type LocalConfig } from './local.js';
import { MAX_PEERS, PeerView, type PeerEntry } from './routes.js';
import { readU32, writeU16 } from './packet/bytes.js';
import { DropReason } from './packet/drops.js';
import { counterIndex, dropIndex, PEER_ROW, P_TX_BYTES, P_TX_PACKETS } from './stats.js';
import { parseIp, IpInfo, IPPROTO_UDP } from './packet/ip.js';
import { TCP_CSUM } from './packet/tcp.js';
import { UDP_CSUM, UDP_MAX_SEGMENTS } from './packet/udp.js';
import { writeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HLEN } from './packet/ethernet.js';
import { IPV4_HLEN, writeIpv4Header } from './packet/ipv4.js';
import { fold, pseudoHeaderSum } from './packet/checksum.js';
import { VXLAN_OVERHEAD, writeVxlan } from './packet/vxlan.js';
import {
  VIRTIO_NET_HDR_LEN,
  VIRTIO_NET_HDR_TNL_LEN,
  VirtioHdr,
  readVirtioHdr,
  VirtioGso,
  VirtioFlag,
  writeVirtioTunnelHdr,
} from './packet/virtio.js';
import { flowSlot } from './packet/flowhash.js';
import { writeTooBig } from './packet/icmp.js';
import { GsoLayout, tsoSplit, completeChecksum, maxSegmentLen, segmentCount, type SplitTarget } from './offload/tso.js';
import { copyRanges, copySegments, finishSegmentChecksums } from './sys/csum.js';

const C_TX_PACKETS = counterIndex('txPackets');
const C_TX_BYTES = counterIndex('txBytes');
const C_TX_DGRAMS = counterIndex('txDatagrams');
const C_TX_CALLS = counterIndex('txSyscalls');
const C_TUN_READS = counterIndex('tunReads');
const C_ICMP = counterIndex('icmpTooBig');
const C_GSO_FALLBACK = counterIndex('gsoFallbacks');
const C_TUNNEL_WRITES = counterIndex('tunnelWrites');
const C_TUNNEL_FALLBACKS = counterIndex('tunnelFallbacks');
const D_NO_ROUTE = dropIndex(DropReason.NO_ROUTE);
const D_BAD_INNER = dropIndex(DropReason.BAD_INNER);
const D_UDP_SEND = dropIndex(DropReason.UDP_SEND);
const D_TOO_BIG = dropIndex(DropReason.TOO_BIG);
const D_MALFORMED_GSO = dropIndex(DropReason.MALFORMED_GSO);

const SPLIT_BYTES = 1 << 20;
const { EINVAL } = constants.errno;

/** Outer headers the kernel gets on the tunnel TAP: Ethernet, IPv4, UDP (VXLAN and inner Ethernet are VXLAN_OVERHEAD). */
const UDP_HLEN = 8;
const OUTER_TH = ETH_HLEN + IPV4_HLEN;
const TUNNEL_SHIFT = OUTER_TH + UDP_HLEN + VXLAN_OVERHEAD;
/** The frame forwarded by the kernel leaves with TTL 64, as a UDP socket's datagrams do. */
const TUNNEL_TTL = 65;

/**
 * Where TSO super-packets go whole (Linux 6.17+, IPv4 underlay): the tunnel TAP, as one VXLAN frame that the kernel
 * forwards to the underlay and segments there (native-notes/super-packets.md). Set up by Dataplane.start.
 */
export interface TunnelRoute {
  writer: TunnelWriter;
  /** The TAP's MAC: the frame's destination, so the kernel takes it for this host and forwards it. */
  tapMac: Uint8Array;
  /** Our underlay address, the outer source. */
  source: Uint8Array;
  /** [0] !== 0: the main thread saw the kernel not forward these frames; send as UDP segments instead. */
  off: Int32Array;
}
export class Encapsulator {
  private readonly cfg: LocalConfig;
  private readonly peers: PeerView;
  private readonly stats: Float64Array;
  /** This worker's per-peer counter rows (stats.ts PEER_COUNTERS), indexed by PeerEntry.slot. */
  private readonly peerStats: Float64Array;
  private readonly tun: TunQueue;
  /** One socket per outer source port; the inner flow hash picks one (RFC 7348 section 5). */
  private readonly binds: UdpBind[];
  private readonly hdr = new VirtioHdr();
  private readonly ip: IpInfo;
  /** Segments of split super-packets, described as UDP messages. */
  private readonly split: PacketBatch;
  private readonly segLengths = new Int32Array(1024);
  /** How tsoSplit writes into `split` (stride and maxSegs set per super-packet); the shim copies and checksums. */
  private readonly splitTarget: SplitTarget;
  private readonly gso = new GsoLayout();
  /** ICMP errors written back into the TUN. */
  private readonly icmp: PacketBatch;
  /** Runs of equal-length in-place packets laid out back to back, and the copies that lay them out. */
  private readonly train: PacketBatch;
  private readonly trainCopies = new Int32Array(3 * 1024);
  private readonly maxPayload: number;
  /** Pending in-place messages: indexes into the TUN batch's descriptor arrays. */
  private pending = 0;
  private pendingBind = -1;
  private readonly tunnel: TunnelRoute | null;
  /** A TAP write failed in this worker: UDP segments from then on. */
  private tunnelBroken = false;
  private outerId = 0;

  constructor(
    cfg: LocalConfig,
    peers: PeerView,
    stats: Float64Array,
    tun: TunQueue,
    binds: UdpBind[],
    peerStats: Float64Array = new Float64Array(MAX_PEERS * PEER_ROW),
    tunnel: TunnelRoute | null = null,
  ) {
    this.peerStats = peerStats;
    this.tunnel = tunnel;
    this.cfg = cfg;
    this.peers = peers;
    this.stats = stats;
    this.tun = tun;
    this.binds = binds;
    this.ip = new IpInfo();
    this.split = new PacketBatch(128, SPLIT_BYTES / 128);
    this.splitTarget = {
      out: this.split.buf,
      outOff: 0,
      stride: 0,
      headroom: VXLAN_OVERHEAD,
      maxSegs: 0,
      lengths: this.segLengths,
      partialChecksums: true,
      segmentsCopied: true,
      layout: this.gso,
    };
    this.icmp = new PacketBatch(8, 2048);
    this.train = new PacketBatch(64, 4096);
    this.maxPayload = maxUdpPayload(cfg.family);
  }

  /**
   * Headroom to ask of TunQueue.read so the IP packet starts VXLAN_OVERHEAD bytes into its slot, or, with a tunnel
   * route, far enough in for the tunnel header and the outer headers too.
   */
  get readHeadroom(): number {
    const room = this.tunnel ? VIRTIO_NET_HDR_TNL_LEN + TUNNEL_SHIFT : VXLAN_OVERHEAD;
    return this.tun.vnetHdr ? room - VIRTIO_NET_HDR_LEN : room;
  }

  /** Encapsulates and sends packets 0..n-1 of a batch filled by TunQueue.read. */
  process(batch: PacketBatch, n: number): void {
    const buf = batch.buf;
    const st = this.stats;
    st[C_TUN_READS] += n;
    this.pending = 0;
    this.pendingBind = -1;
    for (let i = 0; i < n; i++) {
      let off = batch.offsets[i];
      let len = batch.lengths[i];
      if (this.tun.vnetHdr) {
        readVirtioHdr(buf, off, this.hdr);
        off += VIRTIO_NET_HDR_LEN;
        len -= VIRTIO_NET_HDR_LEN;
      } else this.hdr.clear();
      const ip = this.ip;
      if (!parseIp(buf, off, len, ip)) {
        st[D_BAD_INNER]++;
        continue;
      }
      const peer = ip.family === 4 ? this.peers.routeV4(readU32(buf, ip.dstOff)) : this.peers.routeV6(buf, ip.dstOff);
      if (peer === undefined) {
        st[D_NO_ROUTE]++;
        continue;
      }
      const mac = ip.family === 4 ? peer.mac : peer.mac6;
      const bindIdx = this.binds.length === 1 ? 0 : flowSlot(buf, off, ip, this.binds.length);
      if (this.hdr.gsoType !== VirtioGso.NONE) {
        this.flush(batch);
        this.sendSplit(batch, off, len, peer, mac, bindIdx);
        continue;
      }
      if (this.hdr.flags & VirtioFlag.NEEDS_CSUM) completeChecksum(buf, off, len, this.hdr);
      if (len > this.cfg.overlayMtu && ip.dontFragment) {
        this.tooBig(buf, off, len);
        continue;
      }
      if (bindIdx !== this.pendingBind && this.pending > 0) this.flush(batch);
      this.pendingBind = bindIdx;
      const start = off - VXLAN_OVERHEAD;
      writeVxlan(buf, start, this.cfg.vni);
      writeEthernet(buf, start + 8, mac, this.cfg.vtepMac, ip.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
      const k = this.pending++;
      batch.offsets[k] = start;
      batch.lengths[k] = len + VXLAN_OVERHEAD;
      batch.segSizes[k] = 0;
      this.address(batch, k, peer);
      st[C_TX_PACKETS]++;
      st[C_TX_BYTES] += len;
      const row = peer.slot * PEER_ROW;
      this.peerStats[row + P_TX_PACKETS]++;
      this.peerStats[row + P_TX_BYTES] += len;
    }
    this.flush(batch);
    if (this.icmp.count > 0) {
      this.tun.write(this.icmp, this.icmp.count);
      this.icmp.count = 0;
    }
  }

  private address(batch: PacketBatch, k: number, peer: PeerEntry): void {
    batch.families[k] = peer.family;
    batch.addrs.set(peer.publicIp, k * 16);
    batch.ports[k] = this.cfg.port;
  }

  private flush(batch: PacketBatch): void {
    const count = this.pending;
    if (count === 0) return;
    this.pending = 0;
    const bind = this.binds[this.pendingBind];
    if (bind.gso && hasTrain(batch, count)) this.sendTrains(bind, batch, count);
    else this.send(bind, batch, count);
  }

  /** Datagrams of `size` bytes one UDP_SEGMENT message can carry. */
  private segmentsPerMessage(size: number): number {
    return Math.max(1, Math.min(UDP_MAX_SEGMENTS, Math.floor(this.maxPayload / size)));
  }

  /** Sends in-place messages 0..count-1, each run of equal length and peer as one UDP_SEGMENT message. */
  private sendTrains(bind: UdpBind, batch: PacketBatch, count: number): void {
    const t = this.train;
    const list = this.trainCopies;
    let m = 0;
    let pos = 0;
    let copies = 0;
    for (let i = 0; i < count; ) {
      const len = batch.lengths[i];
      const maxSegs = this.segmentsPerMessage(len);
      let j = i + 1;
      while (j < count && j - i < maxSegs && batch.lengths[j] === len && sameDestination(batch, i, j)) j++;
      const bytes = (j - i) * len;
      if (m === t.capacity || pos + bytes > t.buf.length) {
        copyRanges(batch.buf, t.buf, list, copies);
        this.send(bind, t, m);
        m = 0;
        pos = 0;
        copies = 0;
      }
      for (let k = i; k < j; k++, copies++) {
        list[3 * copies] = batch.offsets[k];
        list[3 * copies + 1] = pos + (k - i) * len;
        list[3 * copies + 2] = len;
      }
      t.offsets[m] = pos;
      t.lengths[m] = bytes;
      t.segSizes[m] = j - i > 1 ? len : 0;
      t.families[m] = batch.families[i];
      t.ports[m] = batch.ports[i];
      for (let b = 0; b < 16; b++) t.addrs[m * 16 + b] = batch.addrs[i * 16 + b];
      m++;
      pos += bytes;
      i = j;
    }
    copyRanges(batch.buf, t.buf, list, copies);
    this.send(bind, t, m);
  }

  private send(bind: UdpBind, batch: PacketBatch, count: number): void {
    const gsoBefore = bind.gso;
    const sent = bind.send(batch, count);
    this.stats[C_TX_CALLS]++;
    if (gsoBefore && !bind.gso) this.stats[C_GSO_FALLBACK]++;
    this.stats[C_TX_DGRAMS] += datagrams(batch, 0, sent);
    if (sent < count) this.stats[D_UDP_SEND] += datagrams(batch, sent, count);
  }

  /**
   * Sends a TSO super-packet: whole through the tunnel TAP where that route is on, else split into segments that
   * each carry their own VXLAN + Ethernet header.
   */
  private sendSplit(batch: PacketBatch, off: number, len: number, peer: PeerEntry, mac: Uint8Array, bindIdx: number): void {
    const buf = batch.buf;
    const hdr = this.hdr;
    const segLen = maxSegmentLen(buf, off, len, hdr, this.gso);
    if (segLen <= 0 || hdr.gsoSize === 0) {
      this.stats[D_MALFORMED_GSO]++;
      return;
    }
    if (segLen > this.cfg.overlayMtu && this.ip.dontFragment) {
      this.tooBig(buf, off, len);
      return;
    }
    const stride = VXLAN_OVERHEAD + segLen;
    const out = this.split;
    const maxSegs = Math.min(this.segLengths.length, Math.floor(out.buf.length / stride));
    const count = segmentCount(buf, off, len, hdr, this.gso);
    if (count <= 0 || count > maxSegs) {
      this.stats[D_MALFORMED_GSO]++;
      return;
    }
    // Whole through the tunnel TAP only what the split would take too (a GSO size of 1 byte is malformed either way).
    if (this.tunnel !== null && this.sendWhole(batch, off, len, segLen - hdr.gsoSize, count, peer, mac, bindIdx)) return;
    copySegments(buf, off, len, segLen - hdr.gsoSize, hdr.gsoSize, out.buf, VXLAN_OVERHEAD, stride);
    const to = this.splitTarget;
    to.stride = stride;
    to.maxSegs = maxSegs;
    const n = tsoSplit(buf, off, len, hdr, to);
    if (n <= 0) {
      this.stats[D_MALFORMED_GSO]++;
      return;
    }
    const udp = this.ip.proto === IPPROTO_UDP;
    finishSegmentChecksums(out.buf, VXLAN_OVERHEAD, stride, n, hdr.csumStart, udp ? UDP_CSUM : TCP_CSUM, this.segLengths, udp);
    const ethertype = this.ip.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      const start = k * stride;
      writeVxlan(out.buf, start, this.cfg.vni);
      writeEthernet(out.buf, start + 8, mac, this.cfg.vtepMac, ethertype);
      bytes += this.segLengths[k];
    }
    const bind = this.binds[bindIdx];
    const perMsg = bind.gso ? this.segmentsPerMessage(stride) : 1;
    let m = 0;
    for (let first = 0; first < n; first += perMsg) {
      const last = Math.min(n, first + perMsg) - 1;
      out.offsets[m] = first * stride;
      out.lengths[m] = (last - first) * stride + VXLAN_OVERHEAD + this.segLengths[last];
      out.segSizes[m] = last > first ? stride : 0;
      this.address(out, m, peer);
      if (++m === out.capacity) {
        this.send(bind, out, m);
        m = 0;
      }
    }
    if (m > 0) this.send(bind, out, m);
    this.stats[C_TX_PACKETS] += n;
    this.stats[C_TX_BYTES] += bytes;
    this.peerStats[peer.slot * PEER_ROW + P_TX_PACKETS] += n;
    this.peerStats[peer.slot * PEER_ROW + P_TX_BYTES] += bytes;
  }

  /**
   * Writes the super-packet at off (inner IP, `headerLen` bytes of headers) to the tunnel TAP with its outer headers
   * in front, in the read headroom. False when the route does not apply (outer IPv6, inner UDP, switched off, too
   * long for one outer IPv4 packet) or the write failed; the caller then splits it.
   */
  private sendWhole(
    batch: PacketBatch,
    off: number,
    len: number,
    headerLen: number,
    segments: number,
    peer: PeerEntry,
    mac: Uint8Array,
    bindIdx: number,
  ): boolean {
    const t = this.tunnel!;
    const hdr = this.hdr;
    const inner = hdr.gsoType & ~VirtioGso.ECN;
    if (this.tunnelBroken || peer.family !== 4 || inner !== (this.ip.family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6)) return false;
    if (!(hdr.flags & VirtioFlag.NEEDS_CSUM) || len + TUNNEL_SHIFT - ETH_HLEN > 0xffff || Atomics.load(t.off, 0) !== 0) return false;
    const buf = batch.buf;
    const frame = off - TUNNEL_SHIFT;
    const start = frame - VIRTIO_NET_HDR_TNL_LEN;
    writeVirtioTunnelHdr(buf, start, hdr, headerLen, TUNNEL_SHIFT, OUTER_TH);
    writeEthernet(buf, frame, t.tapMac, this.cfg.vtepMac, ETHERTYPE_IPV4);
    const outerLen = len + TUNNEL_SHIFT - ETH_HLEN;
    writeIpv4Header(buf, frame + ETH_HLEN, IPPROTO_UDP, TUNNEL_TTL, t.source, 0, peer.publicIp, 0, outerLen, this.outerId);
    this.outerId = (this.outerId + segments) & 0xffff;
    const udp = frame + OUTER_TH;
    writeU16(buf, udp, this.binds[bindIdx].localPort); // the send socket the flow hash picked, as on the UDP path
    writeU16(buf, udp + 2, this.cfg.port);
    writeU16(buf, udp + 4, outerLen - IPV4_HLEN);
    // The outer UDP checksum, as the UDP sockets send it: the kernel completes it per segment from the pseudo-header
    // sum over the whole length (VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM; __skb_udp_tunnel_segment).
    writeU16(buf, udp + 6, fold(pseudoHeaderSum(buf, frame + ETH_HLEN, 4, IPPROTO_UDP, outerLen - IPV4_HLEN)));
    writeVxlan(buf, udp + UDP_HLEN, this.cfg.vni);
    writeEthernet(buf, udp + UDP_HLEN + 8, mac, this.cfg.vtepMac, this.ip.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
    const st = this.stats;
    st[C_TX_CALLS]++;
    const written = t.writer.writeAt(batch, start, len + TUNNEL_SHIFT + VIRTIO_NET_HDR_TNL_LEN);
    if (written < 0) {
      // EINVAL: the kernel refused this packet's offload fields (a local program can write anything to the TUN);
      // the split path judges it. Anything else means the TAP itself failed: split from now on.
      if (written !== -EINVAL) this.tunnelBroken = true;
      st[C_TUNNEL_FALLBACKS]++;
      return false;
    }
    const bytes = len + (segments - 1) * headerLen;
    st[C_TUNNEL_WRITES]++;
    st[C_TX_DGRAMS] += segments;
    st[C_TX_PACKETS] += segments;
    st[C_TX_BYTES] += bytes;
    this.peerStats[peer.slot * PEER_ROW + P_TX_PACKETS] += segments;
    this.peerStats[peer.slot * PEER_ROW + P_TX_BYTES] += bytes;
    return true;
  }

  /** Answers a packet that does not fit the overlay with ICMP "fragmentation needed" / "packet too big". */
  private tooBig(buf: Buffer, off: number, len: number): void {
    this.stats[D_TOO_BIG]++;
    const gw = this.ip.family === 4 ? this.cfg.gateway4 : this.cfg.gateway6;
    const b = this.icmp;
    if (gw === null || b.count === b.capacity) return;
    const slot = b.slotStart(b.count);
    const lead = this.tun.vnetHdr ? VIRTIO_NET_HDR_LEN : 0;
    b.buf.fill(0, slot, slot + lead);
    // Sourced from the packet's destination, as Linux's own tunnels do (iptunnel_pmtud_build_icmp): from our
    // gateway, a local address, Linux drops the IPv4 error as a martian source and the sender never learns the MTU.
    const n = writeTooBig(
      buf,
      off,
      len,
      this.cfg.overlayMtu,
      buf.subarray(this.ip.dstOff, this.ip.dstOff + this.ip.addrLen),
      b.buf,
      slot + lead,
    );
    if (n <= 0) return;
    b.offsets[b.count] = slot;
    b.lengths[b.count] = lead + n;
    b.count++;
    this.stats[C_ICMP]++;
  }
}

function sameDestination(b: PacketBatch, i: number, j: number): boolean {
  if (b.families[i] !== b.families[j] || b.ports[i] !== b.ports[j]) return false;
  const n = b.families[i] === 4 ? 4 : 16;
  for (let k = 0; k < n; k++) if (b.addrs[i * 16 + k] !== b.addrs[j * 16 + k]) return false;
  return true;
}

/** Whether any two neighbours could share a UDP_SEGMENT message (else copying would buy nothing). */
function hasTrain(b: PacketBatch, count: number): boolean {
  for (let i = 1; i < count; i++) if (b.lengths[i] === b.lengths[i - 1] && sameDestination(b, i - 1, i)) return true;
  return false;
}

/** Datagrams on the wire for messages from..to-1 (a UDP_SEGMENT message is several). */
function datagrams(b: PacketBatch, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const seg = b.segSizes[i];
    n += seg > 0 ? Math.ceil(b.lengths[i] / seg) : 1;
  }
  return n;
}
