/**
 * TSO/USO split for packets read from a TUN opened with IFF_VNET_HDR (TUN -> wire direction): one super-packet
 * of up to 64 KB becomes MSS-sized IP packets with their own lengths, IPv4 IDs, TCP sequence numbers and
 * full checksums, as the kernel's tcp_gso_segment()/__udp_gso_segment() would make them.
 */
import { copyBytes, copyPayload, readU16, readU32, writeU16, writeU32 } from '../packet/bytes.js';
import { checksum, fold, pseudoHeaderSum } from '../packet/checksum.js';
import { DropReason } from '../packet/drops.js';
import { IPPROTO_TCP, IPPROTO_UDP, setIpLength } from '../packet/ip.js';
import { IPV4_HLEN, IPV4_ID } from '../packet/ipv4.js';
import { IPV6_HLEN } from '../packet/ipv6.js';
import { TCP_CSUM, TCP_CWR, TCP_FIN, TCP_FLAGS, TCP_HLEN_MAX, TCP_HLEN_MIN, TCP_PSH, TCP_SEQ, tcpHeaderLen } from '../packet/tcp.js';
import { UDP_CSUM, UDP_HLEN, UDP_LENGTH, udpChecksumField } from '../packet/udp.js';
import { VirtioFlag, VirtioGso, VirtioHdr } from '../packet/virtio.js';

const MALFORMED = ~DropReason.MALFORMED_GSO;

/**
 * Finishes the transport checksum of a non-GSO packet read with VIRTIO_NET_HDR_F_NEEDS_CSUM: the field at
 * csum_start + csum_offset holds the pseudo-header sum; sum from csum_start to the end into it.
 * A result of 0 is written as 0xffff, like the kernel's skb_checksum_help(). False when the header lies.
 */
export function completeChecksum(buf: Uint8Array, off: number, len: number, hdr: VirtioHdr): boolean {
  const start = hdr.csumStart;
  const at = off + start + hdr.csumOffset;
  if (start >= len || start + hdr.csumOffset + 2 > len) return false;
  const initial = readU16(buf, at);
  buf[at] = 0;
  buf[at + 1] = 0;
  writeU16(buf, at, udpChecksumField(checksum(buf, off + start, len - start, initial)));
  return true;
}

/** What gsoHeaderLen learned about a GSO packet: the family and transport protocol its gso_type names. */
export class GsoLayout {
  family: 4 | 6 = 4;
  proto = 0;
}

/**
 * Length of the headers in front of the payload of the GSO packet src[pktOff, pktOff+pktLen), recomputed as
 * csum_start + transport header length: hdr.hdrLen is not trusted (on the forwarding path the kernel may set
 * it to the whole first segment). Fills `layout`. Returns ~DropReason.MALFORMED_GSO when the header does not
 * fit the packet.
 */
function gsoHeaderLen(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr, layout: GsoLayout): number {
  const gso = hdr.gsoType & ~VirtioGso.ECN;
  const version = pktLen > 0 ? src[pktOff] >>> 4 : 0;
  if (gso === VirtioGso.TCPV4 || gso === VirtioGso.TCPV6) {
    layout.family = gso === VirtioGso.TCPV4 ? 4 : 6;
    layout.proto = IPPROTO_TCP;
  } else if (gso === VirtioGso.UDP_L4 && (version === 4 || version === 6)) {
    layout.family = version;
    layout.proto = IPPROTO_UDP;
  } else {
    return MALFORMED;
  }
  const start = hdr.csumStart;
  if (version !== layout.family || pktLen < start + UDP_HLEN || pktOff < 0 || pktOff + pktLen > src.length) return MALFORMED;
  if (layout.family === 4 ? start !== (src[pktOff] & 0x0f) * 4 || start < IPV4_HLEN : start < IPV6_HLEN) return MALFORMED;
  if (layout.proto === IPPROTO_UDP) return hdr.csumOffset === UDP_CSUM ? start + UDP_HLEN : MALFORMED;
  if (pktLen < start + TCP_HLEN_MIN) return MALFORMED;
  const thl = tcpHeaderLen(src, pktOff + start);
  if (hdr.csumOffset !== TCP_CSUM || thl < TCP_HLEN_MIN || thl > TCP_HLEN_MAX || start + thl > pktLen) return MALFORMED;
  return start + thl;
}

/** Segments tsoSplit will write for this packet (1 for gso_type NONE), or ~DropReason.MALFORMED_GSO. */
export function segmentCount(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr, layout = new GsoLayout()): number {
  if (hdr.gsoType === VirtioGso.NONE) return 1;
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr, layout);
  if (hdrLen < 0 || hdr.gsoSize === 0 || pktLen <= hdrLen) return MALFORMED;
  return Math.ceil((pktLen - hdrLen) / hdr.gsoSize);
}

/** The longest segment tsoSplit will write (headers + gso_size; the packet itself for NONE), or ~MALFORMED_GSO. */
export function maxSegmentLen(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr, layout = new GsoLayout()): number {
  if (hdr.gsoType === VirtioGso.NONE) return pktLen;
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr, layout);
  return hdrLen < 0 ? hdrLen : hdrLen + hdr.gsoSize;
}

/** Where and how tsoSplit writes the segments. A caller on the packet path keeps one and updates it per packet. */
export interface SplitTarget {
  /** Segment k goes to out[outOff + k*stride + headroom]. */
  out: Uint8Array;
  outOff: number;
  stride: number;
  headroom: number;
  /** At most this many segments (and no more than lengths holds). */
  maxSegs: number;
  /** lengths[k] gets segment k's IP length. */
  lengths: Int32Array;
  /**
   * Each segment's checksum field gets only the pseudo-header sum (as the kernel hands a NEEDS_CSUM packet
   * over); the caller finishes them all at once (sys/csum.ts, in C). Default false: full checksums.
   */
  partialChecksums?: boolean;
  /**
   * The caller has already laid out each segment's header and payload bytes at its place (sys/csum.ts
   * copySegments): only the fields are fixed. Default false: tsoSplit copies them.
   */
  segmentsCopied?: boolean;
  /** Scratch for what the packet's header says (default: a new one per call). */
  layout?: GsoLayout;
}

/**
 * Splits the packet src[pktOff, pktOff+pktLen) (the IP packet after the virtio header) into segments as `to`
 * says. Returns the number of segments, or ~DropReason.MALFORMED_GSO (nothing useful written) when the header
 * does not describe the packet, it needs more than maxSegs segments, or a segment would not fit its stride or
 * `out`. gso_type NONE is copied as one segment (its checksum completed when NEEDS_CSUM is set); callers that
 * can send in place should use completeChecksum instead and skip the copy. src is not modified.
 */
export function tsoSplit(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr, to: SplitTarget): number {
  const { out, outOff, stride, headroom, maxSegs, lengths } = to;
  if (maxSegs < 1 || lengths.length < 1) return MALFORMED;
  if (hdr.gsoType === VirtioGso.NONE) {
    const at = outOff + headroom;
    if (pktLen < 1 || headroom + pktLen > stride || at + pktLen > out.length || pktOff + pktLen > src.length) return MALFORMED;
    copyPayload(src, pktOff, out, at, pktLen);
    if ((hdr.flags & VirtioFlag.NEEDS_CSUM) !== 0 && !completeChecksum(out, at, pktLen, hdr)) return MALFORMED;
    lengths[0] = pktLen;
    return 1;
  }
  const layout = to.layout ?? new GsoLayout();
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr, layout);
  const { family, proto } = layout;
  const gsoSize = hdr.gsoSize;
  if (hdrLen < 0 || gsoSize === 0 || pktLen <= hdrLen) return MALFORMED;
  const payload = pktLen - hdrLen;
  const n = Math.ceil(payload / gsoSize);
  const lastLen = hdrLen + payload - (n - 1) * gsoSize;
  if (n > maxSegs || n > lengths.length || stride < headroom + hdrLen + gsoSize) return MALFORMED;
  if (outOff < 0 || outOff + (n - 1) * stride + headroom + lastLen > out.length) return MALFORMED;

  const l4 = hdr.csumStart;
  const isTcp = proto === IPPROTO_TCP;
  const csumAt = l4 + (isTcp ? TCP_CSUM : UDP_CSUM);
  const pseudo = pseudoHeaderSum(src, pktOff, family, proto, 0);
  const seq0 = isTcp ? readU32(src, pktOff + l4 + TCP_SEQ) : 0;
  const id0 = readU16(src, pktOff + IPV4_ID);
  for (let k = 0; k < n; k++) {
    const seg = outOff + k * stride + headroom;
    const dataLen = k === n - 1 ? lastLen - hdrLen : gsoSize;
    const segLen = hdrLen + dataLen;
    if (to.segmentsCopied !== true) {
      copyBytes(src, pktOff, out, seg, hdrLen);
      copyPayload(src, pktOff + hdrLen + k * gsoSize, out, seg + hdrLen, dataLen);
    }
    if (family === 4) writeU16(out, seg + IPV4_ID, (id0 + k) & 0xffff);
    setIpLength(out, seg, family, l4, segLen);
    if (isTcp) {
      writeU32(out, seg + l4 + TCP_SEQ, (seq0 + k * gsoSize) >>> 0);
      let flags = out[seg + l4 + TCP_FLAGS];
      if (k !== n - 1) flags &= ~(TCP_FIN | TCP_PSH);
      if (k !== 0) flags &= ~TCP_CWR;
      out[seg + l4 + TCP_FLAGS] = flags;
    } else {
      writeU16(out, seg + l4 + UDP_LENGTH, segLen - l4);
    }
    if (to.partialChecksums === true) {
      writeU16(out, seg + csumAt, fold(pseudo + fold(segLen - l4)));
      lengths[k] = segLen;
      continue;
    }
    out[seg + csumAt] = 0;
    out[seg + csumAt + 1] = 0;
    const sum = checksum(out, seg + l4, segLen - l4, pseudo + fold(segLen - l4));
    writeU16(out, seg + csumAt, isTcp ? sum : udpChecksumField(sum));
    lengths[k] = segLen;
  }
  return n;
}
