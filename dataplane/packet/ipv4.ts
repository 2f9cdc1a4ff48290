/** IPv4 header layout (RFC 791) and the writers that only IPv4 needs. */
import { checksum } from './checksum.js';
import { copyBytes, writeU16 } from './bytes.js';

export const IPV4_HLEN = 20;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_FLAG_DF = 0x40;
export const IPV4_FLAG_MF = 0x20;

/** Recomputes the header checksum of the IPv4 header at off. */
export function fixIpv4Checksum(buf: Uint8Array, off: number, headerLen: number): void {
  buf[off + IPV4_CSUM] = 0;
  buf[off + IPV4_CSUM + 1] = 0;
  writeU16(buf, off + IPV4_CSUM, checksum(buf, off, headerLen));
}

/** Writes a 20-byte IPv4 header (no options, DF set, TOS 0) with a valid checksum. */
export function writeIpv4Header(
  buf: Uint8Array,
  off: number,
  proto: number,
  ttl: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  totalLen: number,
  id = 0,
): void {
  buf[off] = 0x45;
  buf[off + 1] = 0;
  writeU16(buf, off + IPV4_TOTAL_LEN, totalLen);
  writeU16(buf, off + IPV4_ID, id);
  buf[off + IPV4_FLAGS_FRAG] = IPV4_FLAG_DF;
  buf[off + IPV4_FLAGS_FRAG + 1] = 0;
  buf[off + IPV4_TTL] = ttl;
  buf[off + IPV4_PROTO] = proto;
  copyBytes(src, srcOff, buf, off + IPV4_SRC, 4);
  copyBytes(dst, dstOff, buf, off + IPV4_DST, 4);
  fixIpv4Checksum(buf, off, IPV4_HLEN);
}
