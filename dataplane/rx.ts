/**
 * Wire -> TUN. A UDP_GRO message holds several VXLAN datagrams of one size; each is checked (sender holds a
 * lease, VXLAN flags and VNI, inner MAC, inner source inside the sender's subnet), stripped, and its inner
 * packet offered to the coalescer, which joins TCP segments of one flow (and, where the TUN takes USO, UDP
 * datagrams of one flow) into a single TUN write marked NEEDS_CSUM. With a virtio header every inner IPv4 header and
 * TCP/UDP checksum is verified first (offload/partial.ts), since the kernel verifies no NEEDS_CSUM packet; without
 * one the kernel verifies them all. Anything wrong is dropped and counted by reason; nothing here throws per packet.
 */
import { PacketBatch, TUN_F_USO4, TUN_F_USO6, type TunQueue, type UdpBind } from './sys/types.js';
import type { LocalConfig } from './local.js';
import { MAX_PEERS, PeerView, type PeerEntry } from './routes.js';
import { readU32 } from './packet/bytes.js';
import { DropReason } from './packet/drops.js';
import { counterIndex, dropIndex, PEER_ROW, P_LAST_RX, P_RX_BYTES, P_RX_PACKETS } from './stats.js';
import { parseIp, IpInfo, IPPROTO_ICMPV6 } from './packet/ip.js';
import { NDP_NEIGHBOR_SOLICIT } from './packet/ndp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, isSolicitedNodeMac } from './packet/ethernet.js';
import { innerEthertype, readVni, VXLAN_HLEN, VXLAN_OVERHEAD } from './packet/vxlan.js';
import { VIRTIO_NET_HDR_LEN } from './packet/virtio.js';
import { InnerChecksum, markChecksumPartial, verifyInnerChecksums } from './offload/partial.js';
import { Coalescer } from './offload/gro.js';
import { copyRanges, sumRange } from './sys/csum.js';
import { NeighborResponder } from './neighbor-responder.js';

const C_RX_PACKETS = counterIndex('rxPackets');
const C_RX_BYTES = counterIndex('rxBytes');
const C_RX_DGRAMS = counterIndex('rxDatagrams');
const C_RX_CALLS = counterIndex('rxSyscalls');
const C_TUN_WRITES = counterIndex('tunWrites');
const D_SHORT = dropIndex(DropReason.SHORT);
const D_WRONG_VNI = dropIndex(DropReason.WRONG_VNI);
const D_BAD_INNER = dropIndex(DropReason.BAD_INNER);
const D_NO_PEER = dropIndex(DropReason.NO_PEER);
const D_SPOOFED = dropIndex(DropReason.SPOOFED_SOURCE);
const D_TUN_WRITE = dropIndex(DropReason.TUN_WRITE);
const D_BAD_CHECKSUM = dropIndex(DropReason.BAD_CHECKSUM);

/** Smallest datagram worth parsing: VXLAN + Ethernet + an IPv4 header. */
const MIN_DATAGRAM = VXLAN_OVERHEAD + 20;

export class Decapsulator {
  private readonly cfg: LocalConfig;
  private readonly peers: PeerView;
  private readonly stats: Float64Array;
  /** This worker's per-peer counter rows (stats.ts PEER_COUNTERS), indexed by PeerEntry.slot. */
  private readonly peerStats: Float64Array;
  /** Wall-clock time of the batch being processed, read once per batch. */
  private batchTime = 0;
  private readonly tun: TunQueue;
  private readonly coalescer: Coalescer;
  private readonly neighbors: NeighborResponder;
  /** TUN writes: with a virtio header, filled by the coalescer; without one, plain copies. */
  private readonly out: PacketBatch;
  private readonly ip: IpInfo;

  constructor(
    cfg: LocalConfig,
    peers: PeerView,
    stats: Float64Array,
    tun: TunQueue,
    replyBind: UdpBind,
    peerStats: Float64Array = new Float64Array(MAX_PEERS * PEER_ROW),
  ) {
    this.peerStats = peerStats;
    this.cfg = cfg;
    this.peers = peers;
    this.stats = stats;
    this.tun = tun;
    // UDP runs are merged only where the kernel takes UDP_L4 GSO packets from the TUN (USO, Linux 6.2+).
    const uso = TUN_F_USO4 | TUN_F_USO6;
    this.coalescer = new Coalescer({ copier: copyRanges, udp: (tun.offloadFlags & uso) === uso, mtu: cfg.overlayMtu });
    this.neighbors = new NeighborResponder(cfg, stats, replyBind);
    this.out = new PacketBatch(64, VIRTIO_NET_HDR_LEN + 65536);
    this.ip = new IpInfo();
  }

  /** Headroom to ask of UdpBind.recv: none is needed, the inner packet is copied into TUN slots. */
  readonly recvHeadroom = 0;

  /** Handles messages 0..n-1 of a batch filled by UdpBind.recv. */
  process(batch: PacketBatch, n: number): void {
    const st = this.stats;
    st[C_RX_CALLS]++;
    this.batchTime = Date.now();
    for (let i = 0; i < n; i++) {
      const off = batch.offsets[i];
      const len = batch.lengths[i];
      const seg = batch.segSizes[i] > 0 ? batch.segSizes[i] : len;
      const peer = this.peers.bySource(batch.families[i], batch.addrs, i * 16);
      if (peer === undefined) {
        st[D_NO_PEER] += Math.ceil(len / seg);
        continue;
      }
      for (let o = off, end = off + len; o < end; o += seg) {
        this.datagram(batch.buf, o, Math.min(seg, end - o), peer);
      }
    }
    this.flushTun();
    this.neighbors.flush();
  }

  private datagram(buf: Buffer, o: number, len: number, peer: PeerEntry): void {
    const st = this.stats;
    st[C_RX_DGRAMS]++;
    if (len < MIN_DATAGRAM) {
      st[D_SHORT]++;
      return;
    }
    const vni = readVni(buf, o, len);
    if (vni < 0) {
      st[dropIndex(~vni)]++;
      return;
    }
    if (vni !== this.cfg.vni) {
      st[D_WRONG_VNI]++;
      return;
    }
    const eth = o + VXLAN_HLEN;
    const ethertype = innerEthertype(buf, eth, this.cfg.vtepMac);
    if (ethertype < 0) {
      st[dropIndex(~ethertype)]++;
      return;
    }
    if (ethertype === ETHERTYPE_ARP) {
      this.neighbors.offerArp(buf, eth, len - VXLAN_HLEN, peer);
      return;
    }
    if (isSolicitedNodeMac(buf, eth)) {
      this.neighbors.offerSolicit(buf, eth, len - VXLAN_HLEN, peer);
      return;
    }
    const inner = o + VXLAN_OVERHEAD;
    const ip = this.ip;
    if (!parseIp(buf, inner, len - VXLAN_OVERHEAD, ip) || (ip.family === 4) !== (ethertype === ETHERTYPE_IPV4)) {
      st[D_BAD_INNER]++;
      return;
    }
    const fromPeer = ip.family === 4 ? peer.contains4(readU32(buf, ip.srcOff)) : peer.contains6(buf, ip.srcOff);
    // A solicitation to our MAC (the kernel's reachability probe) is answered here, not handed to the TUN.
    if (ip.family === 6 && ip.proto === IPPROTO_ICMPV6 && buf[inner + ip.headerLen] === NDP_NEIGHBOR_SOLICIT) {
      this.neighbors.offerSolicit(buf, eth, len - VXLAN_HLEN, peer);
      return;
    }
    if (!fromPeer) {
      st[D_SPOOFED]++;
      return;
    }
    if (this.tun.vnetHdr && verifyInnerChecksums(buf, inner, ip, sumRange) === InnerChecksum.BAD) {
      st[D_BAD_CHECKSUM]++;
      return;
    }
    const innerLen = ip.totalLen; // trims Ethernet padding of short frames
    this.deliver(buf, inner, innerLen, ip);
    st[C_RX_PACKETS]++;
    st[C_RX_BYTES] += innerLen;
    const row = peer.slot * PEER_ROW;
    this.peerStats[row + P_RX_PACKETS]++;
    this.peerStats[row + P_RX_BYTES] += innerLen;
    this.peerStats[row + P_LAST_RX] = this.batchTime;
  }

  private deliver(buf: Buffer, off: number, len: number, ip: IpInfo): void {
    const out = this.out;
    if (!this.tun.vnetHdr) {
      if (out.count === out.capacity) this.flushTun();
      const slot = out.slotStart(out.count);
      buf.copy(out.buf, slot, off, off + len);
      out.offsets[out.count] = slot;
      out.lengths[out.count] = len;
      out.count++;
      return;
    }
    if (!this.coalescer.add(buf, off, len, out, ip)) {
      this.flushTun();
      this.coalescer.add(buf, off, len, out, ip);
    }
  }

  private flushTun(): void {
    const out = this.out;
    if (this.tun.vnetHdr) {
      this.coalescer.finish(out);
      markSinglesPartial(out);
    }
    if (out.count > 0) {
      const written = this.tun.write(out, out.count);
      this.stats[C_TUN_WRITES] += written;
      if (written < out.count) this.stats[D_TUN_WRITE] += out.count - written;
    }
    out.count = 0;
  }
}

/** Packets left alone by the coalescer carry an all-zero header: let the kernel fill their checksums too. */
function markSinglesPartial(out: PacketBatch): void {
  for (let i = 0; i < out.count; i++) {
    const h = out.offsets[i];
    if (out.buf[h] === 0 && out.buf[h + 1] === 0) markChecksumPartial(out.buf, h, out.lengths[i]);
  }
}
