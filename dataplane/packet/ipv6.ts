/** IPv6 header layout (RFC 8200) and its writer. */
import { copyBytes, writeU16 } from './bytes.js';

export const IPV6_HLEN = 40;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
/** The minimum link MTU every IPv6 path supports; ICMPv6 errors never exceed it (RFC 4443 §2.4(c)). */
export const IPV6_MIN_MTU = 1280;

/** Writes a 40-byte IPv6 header (traffic class and flow label 0). */
export function writeIpv6Header(
  buf: Uint8Array,
  off: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  payloadLen: number,
): void {
  buf[off] = 0x60;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  writeU16(buf, off + IPV6_PAYLOAD_LEN, payloadLen);
  buf[off + IPV6_NEXT_HEADER] = nextHeader;
  buf[off + IPV6_HOP_LIMIT] = hopLimit;
  copyBytes(src, srcOff, buf, off + IPV6_SRC, 16);
  copyBytes(dst, dstOff, buf, off + IPV6_DST, 16);
}
