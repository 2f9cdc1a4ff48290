/**
 * VXLAN header (RFC 7348 §5) and the checks the receive path makes before it trusts the inner frame.
 * Layout after the outer UDP header: flags(1) reserved(3) VNI(3) reserved(1), then the inner Ethernet frame.
 */
import { DropReason } from './drops.js';
import { ETH_HLEN, ETH_TYPE, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, isBroadcastMac, isSolicitedNodeMac } from './ethernet.js';
import { bytesEqual, readU16 } from './bytes.js';

export const VXLAN_HLEN = 8;
/** Bytes between the outer UDP header and the inner IP packet: VXLAN header + inner Ethernet header. */
export const VXLAN_OVERHEAD = VXLAN_HLEN + ETH_HLEN;
/** The "I" flag: the VNI is valid. The only flag Linux accepts on a plain VXLAN device. */
export const VXLAN_FLAG_I = 0x08;
/** Linux's and Flannel's default destination port (pre-IANA). */
export const VXLAN_PORT_LINUX = 8472;
export const VXLAN_PORT_IANA = 4789;
export const VNI_MAX = 0xffffff;
/** Underlay bytes each inner packet costs: outer IP + UDP + VXLAN + inner Ethernet (50 over IPv4, 70 over IPv6). */
export const ENCAP_OVERHEAD_IPV4 = 20 + 8 + VXLAN_OVERHEAD;
export const ENCAP_OVERHEAD_IPV6 = 40 + 8 + VXLAN_OVERHEAD;

/** The MTU of the TUN device for a given underlay MTU and outer address family. */
export function overlayMtu(underlayMtu: number, underlayFamily: 4 | 6): number {
  return underlayMtu - (underlayFamily === 4 ? ENCAP_OVERHEAD_IPV4 : ENCAP_OVERHEAD_IPV6);
}

export function writeVxlan(buf: Uint8Array, off: number, vni: number): void {
  buf[off] = VXLAN_FLAG_I;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = vni >>> 16;
  buf[off + 5] = vni >>> 8;
  buf[off + 6] = vni;
  buf[off + 7] = 0;
}

/**
 * Reads the VNI of the VXLAN datagram payload at buf[off, off+len), which must also hold an inner Ethernet
 * header. Returns the VNI (the caller compares it with its own: WRONG_VNI) or ~DropReason.
 * Linux drops frames with any flag besides I or with reserved bits set, although RFC 7348 says to ignore
 * them; we do the same so both ends of a mixed cluster accept the same frames.
 */
export function readVni(buf: Uint8Array, off: number, len: number): number {
  if (len < VXLAN_OVERHEAD) return ~DropReason.SHORT;
  if (buf[off] !== VXLAN_FLAG_I || (buf[off + 1] | buf[off + 2] | buf[off + 3] | buf[off + 7]) !== 0) {
    return ~DropReason.BAD_FLAGS;
  }
  return (buf[off + 4] << 16) | (buf[off + 5] << 8) | buf[off + 6];
}

/**
 * Checks the inner Ethernet header at buf[ethOff]: the destination must be our VTEP MAC (or broadcast, for ARP
 * only; or a solicited-node multicast MAC, for IPv6 Neighbor Solicitations only) and the EtherType IPv4, IPv6 or
 * ARP. Returns the EtherType or ~DropReason.
 */
export function innerEthertype(buf: Uint8Array, ethOff: number, ourMac: Uint8Array): number {
  const type = readU16(buf, ethOff + ETH_TYPE);
  if (
    !bytesEqual(buf, ethOff, ourMac, 0, 6) &&
    !(type === ETHERTYPE_ARP && isBroadcastMac(buf, ethOff)) &&
    !(type === ETHERTYPE_IPV6 && isSolicitedNodeMac(buf, ethOff))
  ) {
    return ~DropReason.NOT_OUR_MAC;
  }
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6 && type !== ETHERTYPE_ARP) return ~DropReason.BAD_ETHERTYPE;
  return type;
}
