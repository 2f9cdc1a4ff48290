/**
 * Why a packet was dropped. The values are indices into the worker's drop counters and stable across releases:
 * append new reasons at the end, never renumber. Functions that can fail on a packet return `~reason`
 * (a negative number) so one return value carries either a result or the reason: `if (r < 0) drops[~r]++`.
 */
export const DropReason = {
  /** Datagram shorter than the headers it must carry. */
  SHORT: 0,
  /** VXLAN flags other than exactly the I bit, or reserved bits set (Linux drops these too). */
  BAD_FLAGS: 1,
  /** VNI differs from ours. */
  WRONG_VNI: 2,
  /** Inner Ethernet destination is not our VTEP MAC (nor broadcast, for an ARP request). */
  NOT_OUR_MAC: 3,
  /** Inner EtherType is not IPv4, IPv6 or ARP. */
  BAD_ETHERTYPE: 4,
  /** Inner IP header fails to parse (version, lengths). */
  BAD_INNER: 5,
  /** Outer source address is not a peer (holds no lease). A TUN packet with no peer for its destination is NO_ROUTE. */
  NO_PEER: 6,
  /** Inner source address lies outside the sending peer's subnet. */
  SPOOFED_SOURCE: 7,
  /** No route for the destination of a packet read from the TUN. */
  NO_ROUTE: 8,
  /** The TUN device refused a write. */
  TUN_WRITE: 9,
  /** The UDP socket refused a send. */
  UDP_SEND: 10,
  /** Packet larger than the path MTU (an ICMP error was sent back where allowed). */
  TOO_BIG: 11,
  /** A TUN super-packet whose virtio-net header does not describe it. */
  MALFORMED_GSO: 12,
  /** An ARP packet that is not a request for our address. */
  ARP_IGNORED: 13,
  /** An inner IPv4 header checksum, or a TCP/UDP checksum, that does not match the bytes received. */
  BAD_CHECKSUM: 14,
  /** An IPv6 frame to a solicited-node multicast MAC, or an ICMPv6 Neighbor Solicitation, that does not ask for our address. */
  NDP_IGNORED: 15,
  /** A received message cut short (MSG_TRUNC): the receive slot was smaller than the datagram or GRO train. */
  TRUNCATED: 16,
} as const;

export type DropReasonName = keyof typeof DropReason;

/** Names indexed by reason value (for stats and logs). */
export const DROP_REASON_NAMES: readonly DropReasonName[] = (() => {
  const names: DropReasonName[] = [];
  for (const [name, value] of Object.entries(DropReason)) names[value] = name as DropReasonName;
  return names;
})();

export const DROP_REASON_COUNT = DROP_REASON_NAMES.length;
