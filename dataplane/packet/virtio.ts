/**
 * struct virtio_net_hdr (include/uapi/linux/virtio_net.h), which precedes every packet on a TUN opened with
 * IFF_VNET_HDR. Its u16 fields are in host byte order for a legacy (non-virtio-1.0) TUN: little-endian here,
 * as on every platform vxtun targets (x86-64, arm64, little-endian arm).
 */

export const VIRTIO_NET_HDR_LEN = 10;
/** struct virtio_net_hdr_v1_hash_tunnel (Linux 6.17+): what a TAP opened for UDP-tunnel GSO takes. */
export const VIRTIO_NET_HDR_TNL_LEN = 24;

export const VirtioFlag = {
  NEEDS_CSUM: 1,
  DATA_VALID: 2,
  /** Tunnel header only: the outer UDP checksum is to be completed per segment (its field holds the pseudo-header sum). */
  UDP_TUNNEL_CSUM: 8,
} as const;

export const VirtioGso = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  /** The packet is a UDP tunnel (outer IPv4) around a GSO packet of the type in the low bits. */
  UDP_TUNNEL_IPV4: 0x20,
  ECN: 0x80,
} as const;

/** One reusable shape: read into it, never allocate one per packet. */
export class VirtioHdr {
  flags = 0;
  gsoType = 0;
  /** Length of the headers before the payload. Not trusted on read: see offload/tso.ts. */
  hdrLen = 0;
  /** Payload bytes per segment. */
  gsoSize = 0;
  /** Where checksumming starts, from the start of the IP packet (= the IP header length). */
  csumStart = 0;
  /** Where the checksum goes, from csumStart (16 for TCP, 6 for UDP). */
  csumOffset = 0;

  /** Back to the all-zero header (a plain packet), as read from a TUN without IFF_VNET_HDR. */
  clear(): void {
    this.flags = 0;
    this.gsoType = 0;
    this.hdrLen = 0;
    this.gsoSize = 0;
    this.csumStart = 0;
    this.csumOffset = 0;
  }
}

export function readVirtioHdr(buf: Uint8Array, off: number, out: VirtioHdr): VirtioHdr {
  out.flags = buf[off];
  out.gsoType = buf[off + 1];
  out.hdrLen = buf[off + 2] | (buf[off + 3] << 8);
  out.gsoSize = buf[off + 4] | (buf[off + 5] << 8);
  out.csumStart = buf[off + 6] | (buf[off + 7] << 8);
  out.csumOffset = buf[off + 8] | (buf[off + 9] << 8);
  return out;
}

export function writeVirtioHdr(buf: Uint8Array, off: number, hdr: VirtioHdr): void {
  buf[off] = hdr.flags;
  buf[off + 1] = hdr.gsoType;
  buf[off + 2] = hdr.hdrLen;
  buf[off + 3] = hdr.hdrLen >>> 8;
  buf[off + 4] = hdr.gsoSize;
  buf[off + 5] = hdr.gsoSize >>> 8;
  buf[off + 6] = hdr.csumStart;
  buf[off + 7] = hdr.csumStart >>> 8;
  buf[off + 8] = hdr.csumOffset;
  buf[off + 9] = hdr.csumOffset >>> 8;
}

/**
 * Writes the header of a single (non-GSO) packet whose transport checksum the kernel is to fill: NEEDS_CSUM,
 * checksumming from csumStart (the IP header length), the result going csumOffset bytes further.
 */
export function writeNeedsCsumHdr(buf: Uint8Array, off: number, csumStart: number, csumOffset: number): void {
  writeZeroVirtioHdr(buf, off);
  buf[off] = VirtioFlag.NEEDS_CSUM;
  buf[off + 6] = csumStart;
  buf[off + 7] = csumStart >>> 8;
  buf[off + 8] = csumOffset;
  buf[off + 9] = csumOffset >>> 8;
}

/** Writes the all-zero header: a plain packet, checksums to be verified by the kernel. */
export function writeZeroVirtioHdr(buf: Uint8Array, off: number): void {
  for (let i = 0; i < VIRTIO_NET_HDR_LEN; i++) buf[off + i] = 0;
}

/**
 * Writes the 24-byte tunnel header for a frame that carries `hdr`'s GSO packet `shift` bytes further in (behind the
 * outer Ethernet, IP, UDP, VXLAN and inner Ethernet headers): csum_start moves by `shift`, hdr_len is the inner
 * packet's `headerLen` plus `shift`, the outer transport header is at `outerTh` and the inner network header at
 * `shift`. The outer UDP checksum is completed by the kernel.
 */
export function writeVirtioTunnelHdr(
  buf: Uint8Array,
  off: number,
  hdr: VirtioHdr,
  headerLen: number,
  shift: number,
  outerTh: number,
): void {
  buf.fill(0, off, off + VIRTIO_NET_HDR_TNL_LEN);
  buf[off] = VirtioFlag.NEEDS_CSUM | VirtioFlag.UDP_TUNNEL_CSUM;
  buf[off + 1] = hdr.gsoType | VirtioGso.UDP_TUNNEL_IPV4;
  writeLe16(buf, off + 2, headerLen + shift);
  writeLe16(buf, off + 4, hdr.gsoSize);
  writeLe16(buf, off + 6, hdr.csumStart + shift);
  writeLe16(buf, off + 8, hdr.csumOffset);
  writeLe16(buf, off + 20, outerTh);
  writeLe16(buf, off + 22, shift);
}

function writeLe16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v;
  buf[off + 1] = v >>> 8;
}
