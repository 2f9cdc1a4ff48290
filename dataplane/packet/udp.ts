/** UDP header layout (RFC 768) and accessors; `off` is where the UDP header starts. */
import { readU16, writeU16 } from './bytes.js';

export const UDP_HLEN = 8;
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
/** Checksum field offset: the virtio csum_offset for UDP. */
export const UDP_CSUM = 6;

export function udpLength(buf: Uint8Array, off: number): number {
  return readU16(buf, off + UDP_LENGTH);
}

export function setUdpLength(buf: Uint8Array, off: number, len: number): void {
  writeU16(buf, off + UDP_LENGTH, len);
}

export function udpChecksum(buf: Uint8Array, off: number): number {
  return readU16(buf, off + UDP_CSUM);
}

/** A computed UDP checksum of 0 is sent as 0xffff: 0 means "no checksum" (RFC 768; mandatory over IPv6). */
export function udpChecksumField(sum: number): number {
  return sum === 0 ? 0xffff : sum;
}

/** Writes a UDP header with a zero checksum (set it afterwards if wanted). */
export function writeUdpHeader(buf: Uint8Array, off: number, srcPort: number, dstPort: number, len: number): void {
  writeU16(buf, off + UDP_SRC_PORT, srcPort);
  writeU16(buf, off + UDP_DST_PORT, dstPort);
  writeU16(buf, off + UDP_LENGTH, len);
  writeU16(buf, off + UDP_CSUM, 0);
}
