/** Ethernet II framing for the inner frame of VXLAN, and VTEP MAC addresses. */
import { copyBytes, writeU16 } from './bytes.js';

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export function writeEthernet(buf: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, ethertype: number): void {
  copyBytes(dst, 0, buf, off + ETH_DST, ETH_ALEN);
  copyBytes(src, 0, buf, off + ETH_SRC, ETH_ALEN);
  writeU16(buf, off + ETH_TYPE, ethertype);
}

const MAC_RE = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** Parses "c6:d2:32:6f:8f:44" (or dash-separated); null when malformed. */
export function parseMac(str: string): Uint8Array | null {
  const m = MAC_RE.exec(str.trim());
  if (m === null) return null;
  const mac = new Uint8Array(ETH_ALEN);
  for (let i = 0; i < ETH_ALEN; i++) mac[i] = parseInt(m[i + 1], 16);
  return mac;
}

/** Lower-case colon form, as Flannel writes VtepMAC in leases. */
export function formatMac(bytes: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < ETH_ALEN; i++) parts.push(bytes[off + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** A random locally administered unicast MAC (first octet: bit 1 set, bit 0 clear), as Flannel makes its own. */
export function randomVtepMac(): Uint8Array {
  const mac = new Uint8Array(ETH_ALEN);
  globalThis.crypto.getRandomValues(mac);
  mac[0] = (mac[0] & 0xfe) | 0x02;
  return mac;
}

/** 33:33:ff:xx:xx:xx, where IPv6 Neighbor Solicitations go (RFC 4291 solicited-node multicast, RFC 2464). */
export function isSolicitedNodeMac(buf: Uint8Array, off: number): boolean {
  return buf[off] === 0x33 && buf[off + 1] === 0x33 && buf[off + 2] === 0xff;
}

export function isBroadcastMac(buf: Uint8Array, off: number): boolean {
  return (buf[off] & buf[off + 1] & buf[off + 2] & buf[off + 3] & buf[off + 4] & buf[off + 5]) === 0xff;
}
