/** UDP header layout (RFC 768) and accessors; `off` is where the UDP header starts. */
import { readU16 } from './bytes.js';

export const UDP_HLEN = 8;
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
/** Checksum field offset: the virtio csum_offset for UDP. */
export const UDP_CSUM = 6;
/** Datagrams one UDP_SEGMENT send (or one UDP_L4 GSO packet) may carry: UDP_MAX_SEGMENTS before Linux 6.9 raised it. */
export const UDP_MAX_SEGMENTS = 64;

export function udpLength(buf: Uint8Array, off: number): number {
  return readU16(buf, off + UDP_LENGTH);
}

export function udpChecksum(buf: Uint8Array, off: number): number {
  return readU16(buf, off + UDP_CSUM);
}

/** A computed UDP checksum of 0 is sent as 0xffff: 0 means "no checksum" (RFC 768; mandatory over IPv6). */
export function udpChecksumField(sum: number): number {
  return sum === 0 ? 0xffff : sum;
}
