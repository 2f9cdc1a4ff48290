/**
 * ICMP "fragmentation needed" (ICMPv4 type 3 code 4, RFC 792/1191) and ICMPv6 "packet too big" (type 2,
 * RFC 4443/8201), written back into the TUN when a packet with DF does not fit the overlay MTU.
 */
import { checksum, pseudoHeaderSum } from './checksum.js';
import { copyPayload, writeU16, writeU32 } from './bytes.js';
import { IpInfo, IPPROTO_ICMP, IPPROTO_ICMPV6, parseIp, writeIpHeader } from './ip.js';
import { IPV6_MIN_MTU } from './ipv6.js';

export const ICMP_HLEN = 8;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMPV6_PACKET_TOO_BIG = 2;
/** RFC 1812 §4.3.2.3: an ICMPv4 error quotes as much as fits in 576 bytes. */
const ICMPV4_ERROR_MAX = 576;
const TTL = 64;

const orig = new IpInfo();

/** True for ICMP messages that are themselves errors: never answer those with an error (RFC 1122 §3.2.2, RFC 4443 §2.4(e)). */
function isIcmpError(buf: Uint8Array, off: number, info: IpInfo): boolean {
  if (info.totalLen <= info.headerLen) return false;
  const type = buf[off + info.headerLen];
  if (info.family === 4) return info.proto === IPPROTO_ICMP && (type === 3 || type === 4 || type === 5 || type === 11 || type === 12);
  return info.proto === IPPROTO_ICMPV6 && type < 128;
}

/** Unspecified, multicast or (IPv4) limited broadcast sources get no error. */
function sourceUnanswerable(buf: Uint8Array, info: IpInfo): boolean {
  const b0 = buf[info.srcOff];
  if (info.family === 6) {
    if (b0 === 0xff) return true;
    for (let i = 0; i < 16; i++) if (buf[info.srcOff + i] !== 0) return false;
    return true;
  }
  return b0 === 0 || b0 >= 224;
}

/**
 * Builds the error for the IP packet origBuf[off, off+len) at out[outOff]: from gatewayAddr (4 or 16 bytes, the
 * family of the packet) to the packet's source, carrying `mtu` and as much of the packet as allowed.
 * Returns the error's length, or 0 when no error may be sent (unparsable packet, non-first fragment, an ICMP
 * error, a source that cannot be answered, a gateway address of the wrong family, or too little room in out).
 */
export function writeTooBig(
  origBuf: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  gatewayAddr: Uint8Array,
  out: Uint8Array,
  outOff: number,
): number {
  const info = parseIp(origBuf, off, len, orig);
  if (info === null || gatewayAddr.length !== info.addrLen) return 0;
  if (sourceUnanswerable(origBuf, info) || isIcmpError(origBuf, off, info)) return 0;
  const v4 = info.family === 4;
  if (v4 && ((origBuf[off + 6] & 0x1f) | origBuf[off + 7]) !== 0) return 0;
  const ipHlen = v4 ? 20 : 40;
  const room = out.length - outOff - ipHlen - ICMP_HLEN;
  const quote = Math.min(info.totalLen, room, (v4 ? ICMPV4_ERROR_MAX : IPV6_MIN_MTU) - ipHlen - ICMP_HLEN);
  if (quote < Math.min(info.totalLen, info.headerLen + 8)) return 0;
  const icmpLen = ICMP_HLEN + quote;
  writeIpHeader(out, outOff, info.family, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, TTL, gatewayAddr, 0, origBuf, info.srcOff, icmpLen);
  const icmp = outOff + ipHlen;
  if (v4) {
    out[icmp] = ICMP_DEST_UNREACH;
    out[icmp + 1] = ICMP_FRAG_NEEDED;
    writeU16(out, icmp + 4, 0);
    writeU16(out, icmp + 6, mtu);
  } else {
    out[icmp] = ICMPV6_PACKET_TOO_BIG;
    out[icmp + 1] = 0;
    writeU32(out, icmp + 4, mtu);
  }
  writeU16(out, icmp + 2, 0);
  copyPayload(origBuf, off, out, icmp + ICMP_HLEN, quote);
  const initial = v4 ? 0 : pseudoHeaderSum(out, outOff, 6, IPPROTO_ICMPV6, icmpLen);
  writeU16(out, icmp + 2, checksum(out, icmp, icmpLen, initial));
  return ipHlen + icmpLen;
}

/** True when the ICMP/ICMPv6 message in the IP packet at buf[off] has a valid checksum (for tests and diagnostics). */
export function icmpChecksumValid(buf: Uint8Array, off: number, len: number): boolean {
  const info = parseIp(buf, off, len, orig);
  if (info === null) return false;
  const l4 = off + info.headerLen;
  const l4Len = info.totalLen - info.headerLen;
  const initial = info.family === 4 ? 0 : pseudoHeaderSum(buf, off, 6, IPPROTO_ICMPV6, l4Len);
  return checksum(buf, l4, l4Len, initial) === 0;
}
