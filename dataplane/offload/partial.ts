/**
 * Receive side: hand the kernel a TCP/UDP packet with its checksum left for the kernel to fill (NEEDS_CSUM),
 * as the coalescer does for merged packets. The inner checksum received is not trusted either way: the outer
 * UDP checksum, which the kernel verified, covers the inner frame; and a peer on the same machine (veth) hands
 * over inner packets whose checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL never finished),
 * which the kernel would otherwise drop as corrupt. The TUN ignores VIRTIO_NET_HDR_F_DATA_VALID on write.
 */
import { writeU16 } from '../packet/bytes.js';
import { fold, pseudoHeaderSum } from '../packet/checksum.js';
import { IpInfo, IPPROTO_TCP, IPPROTO_UDP, parseIp } from '../packet/ip.js';
import { VIRTIO_NET_HDR_LEN, VirtioFlag } from '../packet/virtio.js';

const TCP_CSUM_OFFSET = 16;
const UDP_CSUM_OFFSET = 6;
const info = new IpInfo();

/**
 * For a packet at buf[hdrOff] (virtio header, then the IP packet, total len bytes) whose header is all zero:
 * if it is an unfragmented TCP or UDP packet, writes NEEDS_CSUM with csum_start/csum_offset and puts the
 * pseudo-header sum in the checksum field. Returns true when it did.
 */
export function markChecksumPartial(buf: Uint8Array, hdrOff: number, len: number): boolean {
  const ipOff = hdrOff + VIRTIO_NET_HDR_LEN;
  const ip = parseIp(buf, ipOff, len - VIRTIO_NET_HDR_LEN, info);
  if (ip === null || ip.fragment) return false;
  const csumOffset = ip.proto === IPPROTO_TCP ? TCP_CSUM_OFFSET : ip.proto === IPPROTO_UDP ? UDP_CSUM_OFFSET : -1;
  const l4Len = ip.totalLen - ip.headerLen;
  if (csumOffset < 0 || l4Len < csumOffset + 2) return false;
  // IPv4 UDP with checksum 0 means "no checksum": filling one in is allowed and harmless.
  writeU16(buf, ipOff + ip.headerLen + csumOffset, fold(pseudoHeaderSum(buf, ipOff, ip.family, ip.proto, l4Len)));
  buf[hdrOff] = VirtioFlag.NEEDS_CSUM;
  buf[hdrOff + 1] = 0; // gso_type NONE
  writeU16Le(buf, hdrOff + 6, ip.headerLen); // csum_start, from the start of the IP packet
  writeU16Le(buf, hdrOff + 8, csumOffset);
  return true;
}

function writeU16Le(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = v >>> 8;
}
