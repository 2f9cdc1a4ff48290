/**
 * IPv6 Neighbor Discovery (RFC 4861): answer a Neighbor Solicitation for our own gateway address with a
 * Neighbor Advertisement, the IPv6 counterpart of arp.ts, built the way Linux's ndisc_send_na() builds it.
 * Linux solicits to the solicited-node multicast MAC 33:33:ff:xx:xx:xx, so a receive path that answers NDP must
 * accept that destination as well as its own MAC.
 */
import { bytesEqual, copyBytes, writeU16 } from './bytes.js';
import { checksum, pseudoHeaderSum } from './checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV6, writeEthernet } from './ethernet.js';
import { IpInfo, IPPROTO_ICMPV6, parseIp } from './ip.js';
import { IPV6_HLEN, writeIpv6Header } from './ipv6.js';

export const NDP_NEIGHBOR_SOLICIT = 135;
export const NDP_NEIGHBOR_ADVERT = 136;
const OPT_SOURCE_LLADDR = 1;
const OPT_TARGET_LLADDR = 2;
/** Hop limit every ND message carries; anything else was forwarded and must be ignored (RFC 4861 §7.1.1). */
const ND_HOP_LIMIT = 255;
const NA_LEN = 32;
/** A whole advertisement frame: Ethernet + IPv6 + NA with the target link-layer address option. */
export const NA_FRAME_LEN = ETH_HLEN + IPV6_HLEN + NA_LEN;
const NA_SOLICITED_OVERRIDE = 0x60;

/** One reusable solicitation: parseNeighborSolicit fills it in place. */
export class NeighborSolicit {
  readonly senderIp = new Uint8Array(16);
  readonly targetIp = new Uint8Array(16);
  /** From the source link-layer address option; all zero when the option was absent. */
  readonly senderMac = new Uint8Array(6);
  hasSenderMac = false;
}

const shared = new NeighborSolicit();
const info = new IpInfo();

/**
 * Parses a Neighbor Solicitation in the IPv6 packet buf[ipOff, ipOff+len). Returns `out` (shared by default,
 * valid until the next call) or null for anything else, including bad checksums, a hop limit other than 255
 * and duplicate address detection probes (unspecified source: those are not answered by unicast).
 */
export function parseNeighborSolicit(buf: Uint8Array, ipOff: number, len: number, out: NeighborSolicit = shared): NeighborSolicit | null {
  const ip = parseIp(buf, ipOff, len, info);
  if (ip === null || ip.family !== 6 || ip.proto !== IPPROTO_ICMPV6 || buf[ipOff + 7] !== ND_HOP_LIMIT) return null;
  const icmp = ipOff + IPV6_HLEN;
  const icmpLen = ip.totalLen - IPV6_HLEN;
  if (icmpLen < 24 || buf[icmp] !== NDP_NEIGHBOR_SOLICIT || buf[icmp + 1] !== 0) return null;
  if (checksum(buf, icmp, icmpLen, pseudoHeaderSum(buf, ipOff, 6, IPPROTO_ICMPV6, icmpLen)) !== 0) return null;
  let unspecified = true;
  for (let i = 0; i < 16; i++) if (buf[ip.srcOff + i] !== 0) unspecified = false;
  if (unspecified) return null;
  copyBytes(buf, ip.srcOff, out.senderIp, 0, 16);
  copyBytes(buf, icmp + 8, out.targetIp, 0, 16);
  out.senderMac.fill(0);
  out.hasSenderMac = false;
  for (let opt = icmp + 24; opt + 2 <= icmp + icmpLen; ) {
    const optLen = buf[opt + 1] * 8;
    if (optLen === 0 || opt + optLen > icmp + icmpLen) return null;
    if (buf[opt] === OPT_SOURCE_LLADDR && optLen === 8) {
      copyBytes(buf, opt + 2, out.senderMac, 0, 6);
      out.hasSenderMac = true;
    }
    opt += optLen;
  }
  return out;
}

/** True when the solicitation asks for `ip` (16 bytes). */
export function solicitAsksFor(req: NeighborSolicit, ip: Uint8Array): boolean {
  return bytesEqual(req.targetIp, 0, ip, 0, 16);
}

/**
 * Writes the Ethernet + IPv6 + Neighbor Advertisement frame answering `req` at out[outOff]: req.targetIp is at
 * ourMac (flags Solicited + Override, target link-layer address option). dstMac defaults to the MAC the
 * solicitation carried; pass the frame's Ethernet source when it had none. Returns NA_FRAME_LEN.
 */
export function writeNeighborAdvert(
  out: Uint8Array,
  outOff: number,
  ourMac: Uint8Array,
  req: NeighborSolicit,
  dstMac: Uint8Array = req.senderMac,
): number {
  writeEthernet(out, outOff, dstMac, ourMac, ETHERTYPE_IPV6);
  const ip = outOff + ETH_HLEN;
  writeIpv6Header(out, ip, IPPROTO_ICMPV6, ND_HOP_LIMIT, req.targetIp, 0, req.senderIp, 0, NA_LEN);
  const na = ip + IPV6_HLEN;
  out[na] = NDP_NEIGHBOR_ADVERT;
  out[na + 1] = 0;
  writeU16(out, na + 2, 0);
  out[na + 4] = NA_SOLICITED_OVERRIDE;
  out[na + 5] = 0;
  out[na + 6] = 0;
  out[na + 7] = 0;
  copyBytes(req.targetIp, 0, out, na + 8, 16);
  out[na + 24] = OPT_TARGET_LLADDR;
  out[na + 25] = 1;
  copyBytes(ourMac, 0, out, na + 26, 6);
  writeU16(out, na + 2, checksum(out, na, NA_LEN, pseudoHeaderSum(out, ip, 6, IPPROTO_ICMPV6, NA_LEN)));
  return NA_FRAME_LEN;
}
