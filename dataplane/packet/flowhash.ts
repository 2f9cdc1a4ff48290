/**
 * A flow hash for the outer UDP source port (RFC 7348 §5: "a hash of fields from the inner packet"), so the
 * receiver's RSS / SO_REUSEPORT spreads flows over queues while each flow stays on one.
 * Fixed seed, so a flow keeps its outer port across restarts; not a defence against crafted collisions.
 */
import { IpInfo, IPPROTO_TCP, IPPROTO_UDP, parseIp } from './ip.js';

const SEED = 0x9747b28c;
/** Linux's default ephemeral range (net.ipv4.ip_local_port_range), which its vxlan driver uses for source ports. */
export const SRC_PORT_MIN = 32768;
export const SRC_PORT_MAX = 60999;
const SCTP = 132;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The final avalanche, as a signed 32-bit value (`>>> 0` makes it the unsigned hash). */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Hash of both addresses (addrLen bytes each, source first at addrOff), the protocol and, when portsOff >= 0,
 * the 4 port bytes there. Unsigned 32-bit.
 */
export function tupleHash(buf: Uint8Array, addrOff: number, addrLen: number, proto: number, portsOff: number): number {
  return hashTuple(buf, addrOff, addrLen, proto, portsOff, 0);
}

/**
 * tupleHash, or with n > 0 tupleHash % n. The remainder is taken here, from the top 30 and the low 2 bits, so what
 * this returns to a hot loop is always a small integer: V8 boxes a uint32 of 2^30 or more as a heap number, and
 * optimized code that met only small hashes is thrown away the first time a flow's hash is large.
 */
function hashTuple(buf: Uint8Array, addrOff: number, addrLen: number, proto: number, portsOff: number, n: number): number {
  let h = SEED;
  const end = addrOff + 2 * addrLen;
  for (let i = addrOff; i < end; i += 4) {
    h = mix(h, (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]);
  }
  if (portsOff >= 0) {
    h = mix(h, (buf[portsOff] << 24) | (buf[portsOff + 1] << 16) | (buf[portsOff + 2] << 8) | buf[portsOff + 3]);
  }
  // finish() stays signed: `>>> 0` of a hash of 2^31 or more, met after only smaller ones, deoptimizes too.
  const f = finish(mix(h, proto));
  return n > 0 ? (4 * ((f >>> 2) % n) + (f & 3)) % n : f >>> 0;
}

const info = new IpInfo();

/** Flow hash of the IP packet at buf[ipOff, ipOff+len); ports count only for unfragmented TCP/UDP/SCTP. 0 if unparsable. */
export function flowHash(buf: Uint8Array, ipOff: number, len: number): number {
  const ip = parseIp(buf, ipOff, len, info);
  return ip === null ? 0 : flowHashOf(buf, ipOff, ip);
}

/** flowHash of a packet the caller has already parsed into ip. */
function flowHashOf(buf: Uint8Array, ipOff: number, ip: IpInfo): number {
  return hashTuple(buf, ip.srcOff, ip.addrLen, ip.proto, portsOffset(ipOff, ip), 0);
}

/** flowHashOf(buf, ipOff, ip) % n (n > 0), as a small integer whatever the hash (see hashTuple). */
export function flowSlot(buf: Uint8Array, ipOff: number, ip: IpInfo, n: number): number {
  return hashTuple(buf, ip.srcOff, ip.addrLen, ip.proto, portsOffset(ipOff, ip), n);
}

/**
 * Protocols whose first 4 header bytes are the ports. A table rather than a chain of comparisons: optimized code
 * built while only TCP or UDP passed would be thrown away at the first packet of another protocol (a ping) that
 * reaches a comparison never made before.
 */
const HAS_PORTS = new Uint8Array(256);
HAS_PORTS[IPPROTO_TCP] = 1;
HAS_PORTS[IPPROTO_UDP] = 1;
HAS_PORTS[SCTP] = 1;

/** Where the ports of an unfragmented TCP/UDP/SCTP packet start, else -1. */
function portsOffset(ipOff: number, ip: IpInfo): number {
  return HAS_PORTS[ip.proto] === 1 && !ip.fragment && ip.totalLen >= ip.headerLen + 4 ? ipOff + ip.headerLen : -1;
}

/** Maps a hash into [min, max) the way Linux's udp_flow_src_port() does. */
export function sourcePortFromHash(h: number, min = SRC_PORT_MIN, max = SRC_PORT_MAX): number {
  h = (h ^ (h << 16)) >>> 0;
  return Math.floor((h * (max - min)) / 4294967296) + min;
}
