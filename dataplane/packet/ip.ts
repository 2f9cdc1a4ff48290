/**
 * IPv4 and IPv6 through one code path: parse once into an IpInfo, then use its offsets and lengths
 * without asking which family it was.
 */
import { readU16, writeU16 } from './bytes.js';
import { IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_HLEN, fixIpv4Checksum, writeIpv4Header } from './ipv4.js';
import { IPV6_HLEN, writeIpv6Header } from './ipv6.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;

/** What parseIp learned. Offsets are absolute positions in the parsed buffer. */
export class IpInfo {
  family: 4 | 6 = 4;
  /** Bytes before the transport header. IPv6: always 40 (extension headers are not walked; see proto). */
  headerLen = 0;
  /** IPv4 protocol, or the IPv6 Next Header field: with extension headers this is the first one (0, 43, 44, 60...). */
  proto = 0;
  /** Length the header claims (IPv4 total length, IPv6 40 + payload length); may be less than the bytes given. */
  totalLen = 0;
  srcOff = 0;
  dstOff = 0;
  /** 4 or 16. */
  addrLen = 4;
  /** IPv4: the DF bit. IPv6: always true, routers never fragment. */
  dontFragment = false;
  /** IPv4: MF set or a non-zero offset. IPv6: the first header is a Fragment header. */
  fragment = false;
}

const shared = new IpInfo();

/**
 * Parses the IP header at buf[off, off+len). Returns `out` (by default one shared object, valid until the next
 * call: no allocation per packet) or null when the bytes are not a well-formed IPv4/IPv6 header.
 */
export function parseIp(buf: Uint8Array, off: number, len: number, out: IpInfo = shared): IpInfo | null {
  if (len < IPV4_HLEN || off < 0 || off + len > buf.length) return null;
  const version = buf[off] >>> 4;
  const v4 = version === 4;
  if (!v4 && (version !== 6 || len < IPV6_HLEN)) return null;
  const headerLen = v4 ? (buf[off] & 0x0f) * 4 : IPV6_HLEN;
  const totalLen = v4 ? readU16(buf, off + 2) : IPV6_HLEN + readU16(buf, off + 4);
  if (headerLen < IPV4_HLEN || totalLen < headerLen || totalLen > len) return null;
  const flags = buf[off + 6];
  out.family = v4 ? 4 : 6;
  out.headerLen = headerLen;
  out.proto = buf[off + (v4 ? 9 : 6)];
  out.totalLen = totalLen;
  out.srcOff = off + (v4 ? 12 : 8);
  out.addrLen = v4 ? 4 : 16;
  out.dstOff = out.srcOff + out.addrLen;
  out.dontFragment = !v4 || (flags & IPV4_FLAG_DF) !== 0;
  out.fragment = v4 ? (flags & IPV4_FLAG_MF) !== 0 || ((flags & 0x1f) | buf[off + 7]) !== 0 : out.proto === IPPROTO_IPV6_FRAGMENT;
  return out;
}

/** Text form of an address (for logs and errors, not the hot path). IPv6 is written uncompressed. */
export function formatAddr(buf: Uint8Array, addrOff: number, family: 4 | 6): string {
  if (family === 4) return `${buf[addrOff]}.${buf[addrOff + 1]}.${buf[addrOff + 2]}.${buf[addrOff + 3]}`;
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(readU16(buf, addrOff + i).toString(16));
  return parts.join(':');
}

/** True when the address at buf[addrOff] lies in prefixBytes/prefixLen (prefixBytes: 4 or 16 bytes of the family). */
export function addrInPrefix(buf: Uint8Array, addrOff: number, family: 4 | 6, prefixBytes: Uint8Array, prefixLen: number): boolean {
  const bits = family === 4 ? 32 : 128;
  if (prefixLen < 0 || prefixLen > bits || prefixBytes.length < bits / 8) return false;
  const whole = prefixLen >>> 3;
  for (let i = 0; i < whole; i++) if (buf[addrOff + i] !== prefixBytes[i]) return false;
  const rest = prefixLen & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((buf[addrOff + whole] ^ prefixBytes[whole]) & mask) === 0;
}

/**
 * Sets the length fields after a packet at off changed size: IPv4 total length and header checksum,
 * or IPv6 payload length (everything after the fixed 40 bytes).
 */
export function setIpLength(buf: Uint8Array, off: number, family: 4 | 6, headerLen: number, totalLen: number): void {
  if (family === 4) {
    writeU16(buf, off + 2, totalLen);
    fixIpv4Checksum(buf, off, headerLen);
  } else {
    writeU16(buf, off + 4, totalLen - IPV6_HLEN);
  }
}

/** Writes a plain IP header of either family (no options) for payloadLen bytes; returns its length. */
export function writeIpHeader(
  buf: Uint8Array,
  off: number,
  family: 4 | 6,
  proto: number,
  ttl: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  payloadLen: number,
): number {
  if (family === 4) {
    writeIpv4Header(buf, off, proto, ttl, src, srcOff, dst, dstOff, IPV4_HLEN + payloadLen);
    return IPV4_HLEN;
  }
  writeIpv6Header(buf, off, proto, ttl, src, srcOff, dst, dstOff, payloadLen);
  return IPV6_HLEN;
}
