/**
 * ARP over Ethernet for IPv4 (RFC 826): enough to answer requests for our own gateway address, so a kernel
 * VXLAN peer that lost its neighbour entry can still reach us.
 */
import { bytesEqual, copyBytes, readU16, writeU16 } from './bytes.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernet } from './ethernet.js';

/** Ethernet/IPv4 ARP payload length. */
export const ARP_LEN = 28;
/** A whole reply frame: Ethernet header + ARP (Linux does not pad inner VXLAN frames to 60 bytes). */
export const ARP_FRAME_LEN = ETH_HLEN + ARP_LEN;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

/** One reusable request: parseArpRequest fills it in place. */
export class ArpRequest {
  readonly senderMac = new Uint8Array(6);
  readonly senderIp = new Uint8Array(4);
  readonly targetIp = new Uint8Array(4);
}

const shared = new ArpRequest();

/**
 * Parses an Ethernet/IPv4 ARP request at buf[off, off+len) (the ARP packet, after the Ethernet header).
 * Returns `out` (a shared object by default, valid until the next call) or null for anything else.
 */
export function parseArpRequest(buf: Uint8Array, off: number, len: number, out: ArpRequest = shared): ArpRequest | null {
  if (len < ARP_LEN) return null;
  if (readU16(buf, off) !== 1 || readU16(buf, off + 2) !== ETHERTYPE_IPV4) return null;
  if (buf[off + 4] !== 6 || buf[off + 5] !== 4 || readU16(buf, off + 6) !== ARP_OP_REQUEST) return null;
  copyBytes(buf, off + 8, out.senderMac, 0, 6);
  copyBytes(buf, off + 14, out.senderIp, 0, 4);
  copyBytes(buf, off + 24, out.targetIp, 0, 4);
  return out;
}

/** True when the request asks for `ip` (4 bytes). */
export function arpAsksFor(req: ArpRequest, ip: Uint8Array): boolean {
  return bytesEqual(req.targetIp, 0, ip, 0, 4);
}

/**
 * Writes the full Ethernet + ARP reply to `req` at out[outOff], saying that req.targetIp is at ourMac,
 * exactly as Linux's arp_send() builds it. Returns the frame length (ARP_FRAME_LEN).
 */
export function writeArpReply(out: Uint8Array, outOff: number, ourMac: Uint8Array, req: ArpRequest): number {
  writeEthernet(out, outOff, req.senderMac, ourMac, ETHERTYPE_ARP);
  const a = outOff + ETH_HLEN;
  writeU16(out, a, 1);
  writeU16(out, a + 2, ETHERTYPE_IPV4);
  out[a + 4] = 6;
  out[a + 5] = 4;
  writeU16(out, a + 6, ARP_OP_REPLY);
  copyBytes(ourMac, 0, out, a + 8, 6);
  copyBytes(req.targetIp, 0, out, a + 14, 4);
  copyBytes(req.senderMac, 0, out, a + 18, 6);
  copyBytes(req.senderIp, 0, out, a + 24, 4);
  return ARP_FRAME_LEN;
}
