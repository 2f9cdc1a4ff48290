import { randomBytes } from 'node:crypto';
import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from './netns.js';

/** One remote host as both tunnel setups need it: where to send (publicIp), for which subnet, to which MAC. */
export interface OverlayPeer {
  readonly publicIp: string;
  readonly subnet: string;
  readonly vtepMac: string;
}

/** The overlay a host joins: its subnet lease and VTEP MAC, and its peers. */
export interface OverlayHost {
  readonly subnet: string;
  readonly vtepMac: string;
  /** `<subnet>.0`: the address Flannel puts on the device, and the source of host-originated overlay traffic. */
  readonly overlayIp: string;
  readonly peers: readonly OverlayPeer[];
}

export const OVERLAY_NETWORK = '10.244.0.0/16';

/** A Flannel-style plan for a two-host testbed: host a leases 10.244.1.0/24, host b 10.244.2.0/24. */
export function overlayPlan(tb: Testbed): Record<HostName, OverlayHost> {
  const subnets = { a: '10.244.1.0/24', b: '10.244.2.0/24' };
  const macs = { a: randomVtepMac(), b: randomVtepMac() };
  const plan = (self: HostName, other: HostName): OverlayHost => ({
    subnet: subnets[self],
    vtepMac: macs[self],
    overlayIp: subnetAddress(subnets[self]),
    peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: subnets[other], vtepMac: macs[other] }],
  });
  return { a: plan('a', 'b'), b: plan('b', 'a') };
}

/** `10.244.1.0/24` → `10.244.1.0`; rejects anything but a CIDR whose address is the network address. */
export function subnetAddress(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (match === null) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `"${cidr}" is not an IPv4 CIDR like 10.244.1.0/24`);
  const octets = match.slice(1, 5).map(Number);
  const len = Number(match[5]);
  if (octets.some((o) => o > 255) || len > 32) {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `"${cidr}" is not a valid IPv4 CIDR`);
  }
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 2 ** (32 - len);
  if (value % hostBits !== 0) {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `"${cidr}" has host bits set; use its network address`);
  }
  return octets.join('.');
}

/** A random locally administered unicast MAC, as Flannel generates for its VTEP. */
export function randomVtepMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Bytes of outer headers Flannel subtracts from the underlay MTU (IPv4 20 + UDP 8 + VXLAN 8 + Ethernet 14). */
export const VXLAN_OVERHEAD_IPV4 = 50;
/** IPv6 outer header is 20 bytes longer. Flannel subtracts 50 here too (flannel#1781); we use the correct 70. */
export const VXLAN_OVERHEAD_IPV6 = 70;

export function overlayMtu(tb: Testbed): number {
  return tb.mtu - (tb.ipv6Underlay ? VXLAN_OVERHEAD_IPV6 : VXLAN_OVERHEAD_IPV4);
}
