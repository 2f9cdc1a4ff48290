/** What a queue worker knows about its own host. Plain data: it crosses into worker threads via workerData. */
export { overlayMtu } from './packet/vxlan.js';

export interface LocalConfig {
  vni: number;
  /** VXLAN destination port (8472 like Flannel and Linux; 4789 is IANA's). */
  port: number;
  /** Underlay family: decides the UDP socket family and the VXLAN overhead (50 or 70 bytes). */
  family: 4 | 6;
  vtepMac: Uint8Array;
  /** Our IPv4 gateway address (<subnet>.0), answered for ARP; ICMP errors are sent only for families we hold. */
  gateway4: Uint8Array | null;
  /** Our IPv6 gateway address (<ipv6 subnet>::). */
  gateway6: Uint8Array | null;
  /** Largest inner IP packet that fits the underlay: underlay MTU - 50 (IPv4) or - 70 (IPv6). */
  overlayMtu: number;
}

/** Largest UDP payload one (GSO) send may carry. */
export function maxUdpPayload(family: 4 | 6): number {
  return family === 4 ? 65535 - 20 - 8 : 65535 - 8;
}
