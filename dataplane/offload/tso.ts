/**
 * TSO/USO split for packets read from a TUN opened with IFF_VNET_HDR (TUN -> wire direction): one super-packet
 * of up to 64 KB becomes MSS-sized IP packets with their own lengths, IPv4 IDs, TCP sequence numbers and
 * full checksums, as the kernel's tcp_gso_segment()/__udp_gso_segment() would make them.
 */
import { copyBytes, copyPayload, readU16, readU32, writeU16, writeU32 } from '../packet/bytes.js';
import { checksum, fold, pseudoHeaderSum } from '../packet/checksum.js';
import { DropReason } from '../packet/drops.js';
import { IPPROTO_TCP, IPPROTO_UDP, setIpLength } from '../packet/ip.js';
import { IPV4_HLEN } from '../packet/ipv4.js';
import { IPV6_HLEN } from '../packet/ipv6.js';
import { TCP_CSUM, TCP_CWR, TCP_FIN, TCP_FLAGS, TCP_HLEN_MAX, TCP_HLEN_MIN, TCP_PSH, TCP_SEQ } from '../packet/tcp.js';
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

// What gsoHeaderLen learned about the last packet (one thread per module instance: workers each load their own).
let family: 4 | 6 = 4;
let proto = 0;

/**
 * Length of the headers in front of the payload of the GSO packet src[pktOff, pktOff+pktLen), recomputed as
 * csum_start + transport header length: hdr.hdrLen is not trusted (on the forwarding path the kernel may set
 * it to the whole first segment). Returns ~DropReason.MALFORMED_GSO when the header does not fit the packet.
 */
export function gsoHeaderLen(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr): number {
  const gso = hdr.gsoType & ~VirtioGso.ECN;
  const version = pktLen > 0 ? src[pktOff] >>> 4 : 0;
  if (gso === VirtioGso.TCPV4 || gso === VirtioGso.TCPV6) {
    family = gso === VirtioGso.TCPV4 ? 4 : 6;
    proto = IPPROTO_TCP;
  } else if (gso === VirtioGso.UDP_L4 && (version === 4 || version === 6)) {
    family = version;
    proto = IPPROTO_UDP;
  } else {
    return MALFORMED;
  }
  const start = hdr.csumStart;
  if (version !== family || pktLen < start + 8 || pktOff < 0 || pktOff + pktLen > src.length) return MALFORMED;
  if (family === 4 ? start !== (src[pktOff] & 0x0f) * 4 || start < IPV4_HLEN : start < IPV6_HLEN) return MALFORMED;
  if (proto === IPPROTO_UDP) return hdr.csumOffset === UDP_CSUM ? start + UDP_HLEN : MALFORMED;
  if (pktLen < start + TCP_HLEN_MIN) return MALFORMED;
  const thl = (src[pktOff + start + 12] >>> 4) * 4;
  if (hdr.csumOffset !== TCP_CSUM || thl < TCP_HLEN_MIN || thl > TCP_HLEN_MAX || start + thl > pktLen) return MALFORMED;
  return start + thl;
}

/** Segments tsoSplit will write for this packet (1 for gso_type NONE), or ~DropReason.MALFORMED_GSO. */
export function segmentCount(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr): number {
  if (hdr.gsoType === VirtioGso.NONE) return 1;
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr);
  if (hdrLen < 0 || hdr.gsoSize === 0 || pktLen <= hdrLen) return MALFORMED;
  return Math.ceil((pktLen - hdrLen) / hdr.gsoSize);
}

/** The longest segment tsoSplit will write (headers + gso_size; the packet itself for NONE), or ~MALFORMED_GSO. */
export function maxSegmentLen(src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr): number {
  if (hdr.gsoType === VirtioGso.NONE) return pktLen;
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr);
  return hdrLen < 0 ? hdrLen : hdrLen + hdr.gsoSize;
}

/**
 * Splits the packet src[pktOff, pktOff+pktLen) (the IP packet after the virtio header) into segments:
 * segment k goes to out[outOff + k*stride + headroom], lengths[k] gets its IP length. Returns the number of
 * segments, or ~DropReason.MALFORMED_GSO (nothing useful written) when the header does not describe the
 * packet, it needs more than maxSegs segments, or a segment would not fit its stride or `out`.
 * gso_type NONE is copied as one segment (its checksum completed when NEEDS_CSUM is set); callers that can
 * send in place should use completeChecksum instead and skip the copy. src is not modified.
 * With partialChecksums, each segment's checksum field gets only the pseudo-header sum (as the kernel hands a
 * NEEDS_CSUM packet over) and the caller finishes them all at once (sys/csum.ts, in C).
 * With segmentsCopied, the caller has already laid out each segment's header and payload bytes at its place
 * (sys/csum.ts copySegments): only the fields are fixed.
 */
export function tsoSplit(
  src: Uint8Array, pktOff: number, pktLen: number, hdr: VirtioHdr,
  out: Uint8Array, outOff: number, stride: number, headroom: number, maxSegs: number, lengths: Int32Array,
  partialChecksums = false, segmentsCopied = false,
): number {
  if (maxSegs < 1 || lengths.length < 1) return MALFORMED;
  if (hdr.gsoType === VirtioGso.NONE) {
    const at = outOff + headroom;
    if (pktLen < 1 || headroom + pktLen > stride || at + pktLen > out.length || pktOff + pktLen > src.length) return MALFORMED;
    copyPayload(src, pktOff, out, at, pktLen);
    if ((hdr.flags & VirtioFlag.NEEDS_CSUM) !== 0 && !completeChecksum(out, at, pktLen, hdr)) return MALFORMED;
    lengths[0] = pktLen;
    return 1;
  }
  const hdrLen = gsoHeaderLen(src, pktOff, pktLen, hdr);
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
  const id0 = readU16(src, pktOff + 4);
  for (let k = 0; k < n; k++) {
    const seg = outOff + k * stride + headroom;
    const dataLen = k === n - 1 ? lastLen - hdrLen : gsoSize;
    const segLen = hdrLen + dataLen;
    if (!segmentsCopied) {
      copyBytes(src, pktOff, out, seg, hdrLen);
      copyPayload(src, pktOff + hdrLen + k * gsoSize, out, seg + hdrLen, dataLen);
    }
    if (family === 4) writeU16(out, seg + 4, (id0 + k) & 0xffff);
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
    if (partialChecksums) {
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
