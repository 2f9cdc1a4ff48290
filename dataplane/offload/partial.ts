/**
 * Receive side inner checksums. A packet written to the TUN with NEEDS_CSUM (every coalesced packet, and single
 * TCP/UDP packets) is never verified by the kernel, and the outer UDP checksum protects nothing when the sender
 * left it zero (Linux's default for IPv4 VXLAN). So the receive path verifies every inner IPv4 header and every
 * TCP/UDP checksum before it coalesces or marks anything (verifyInnerChecksums), and drops what fails. ICMP and
 * other protocols are written with an all-zero header: the kernel verifies them itself.
 *
 * A peer on the same machine (kernel VXLAN over a veth) hands over inner packets whose checksum field holds only
 * the pseudo-header sum (CHECKSUM_PARTIAL is never finished when no real NIC is crossed). Such a field carries
 * no check of the payload; it is recognised by its value (exactly the folded pseudo-header sum) and let through
 * as partial. See native-notes/kernel-interfaces.md "Inner checksums on receive". The TUN ignores
 * VIRTIO_NET_HDR_F_DATA_VALID on write, so verified packets are marked NEEDS_CSUM too (the kernel rewrites the
 * same value).
 */
import { readU16, writeU16 } from '../packet/bytes.js';
import { checksum, fold, pseudoHeaderSum, sumBytes } from '../packet/checksum.js';
import { IpInfo, IPPROTO_TCP, IPPROTO_UDP, parseIp } from '../packet/ip.js';
import { TCP_CSUM } from '../packet/tcp.js';
import { UDP_CSUM } from '../packet/udp.js';
import { VIRTIO_NET_HDR_LEN, writeNeedsCsumHdr } from '../packet/virtio.js';

const info = new IpInfo();

/** Where the transport checksum field lies from the start of the TCP/UDP header; -1 for other protocols. */
function checksumOffset(proto: number): number {
  return proto === IPPROTO_TCP ? TCP_CSUM : proto === IPPROTO_UDP ? UDP_CSUM : -1;
}

/** Results of verifyInnerChecksums. */
export const InnerChecksum = {
  /** The checksums match, or are left for the kernel to verify (ICMP, fragments, IPv4 UDP without checksum). */
  OK: 0,
  /** The TCP/UDP field holds only the pseudo-header sum: a same-machine sender's unfinished checksum. */
  PARTIAL: 1,
  /** The IPv4 header checksum or the TCP/UDP checksum does not match the bytes. */
  BAD: -1,
} as const;

/**
 * Ones'-complement sum of buf[off, off+len) as big-endian 16-bit words, folded or not (the packet path passes the
 * shim's sumRange, sys/csum.ts; the default is the JS sumBytes).
 */
export type RangeSummer = (buf: Uint8Array, off: number, len: number) => number;

/**
 * Verifies the inner packet at buf[ipOff] described by `ip` (from parseIp): its IPv4 header checksum, then for
 * unfragmented TCP and UDP the transport checksum over pseudo-header, header and payload.
 * A corrupted packet whose checksum field happens to equal its pseudo-header sum (1 in 65,535) passes as PARTIAL.
 */
export function verifyInnerChecksums(buf: Uint8Array, ipOff: number, ip: IpInfo, sum: RangeSummer = sumBytes): number {
  if (ip.family === 4 && checksum(buf, ipOff, ip.headerLen) !== 0) return InnerChecksum.BAD;
  const csumOffset = checksumOffset(ip.proto);
  const l4Len = ip.totalLen - ip.headerLen;
  // Fragments are verified by the kernel after reassembly; a truncated header is dropped by the kernel.
  if (csumOffset < 0 || ip.fragment || l4Len < csumOffset + 2) return InnerChecksum.OK;
  const l4 = ipOff + ip.headerLen;
  const field = readU16(buf, l4 + csumOffset);
  if (field === 0 && ip.proto === IPPROTO_UDP && ip.family === 4) return InnerChecksum.OK;
  const pseudo = pseudoHeaderSum(buf, ipOff, ip.family, ip.proto, l4Len);
  if (field === fold(pseudo)) return InnerChecksum.PARTIAL;
  return fold(pseudo + sum(buf, l4, l4Len)) === 0xffff ? InnerChecksum.OK : InnerChecksum.BAD;
}

/**
 * For a packet at buf[hdrOff] (virtio header, then the IP packet, total len bytes) whose header is all zero:
 * if it is an unfragmented TCP or UDP packet, writes NEEDS_CSUM with csum_start/csum_offset and puts the
 * pseudo-header sum in the checksum field. Returns true when it did.
 */
export function markChecksumPartial(buf: Uint8Array, hdrOff: number, len: number): boolean {
  const ipOff = hdrOff + VIRTIO_NET_HDR_LEN;
  const ip = parseIp(buf, ipOff, len - VIRTIO_NET_HDR_LEN, info);
  if (ip === null || ip.fragment) return false;
  const csumOffset = checksumOffset(ip.proto);
  const l4Len = ip.totalLen - ip.headerLen;
  if (csumOffset < 0 || l4Len < csumOffset + 2) return false;
  // IPv4 UDP with checksum 0 means "no checksum": filling one in is allowed and harmless.
  writeU16(buf, ipOff + ip.headerLen + csumOffset, fold(pseudoHeaderSum(buf, ipOff, ip.family, ip.proto, l4Len)));
  writeNeedsCsumHdr(buf, hdrOff, ip.headerLen, csumOffset);
  return true;
}
