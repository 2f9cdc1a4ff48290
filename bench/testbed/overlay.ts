import { VxtunError } from '../../dataplane/errors.js';
import { formatMac, randomVtepMac as newVtepMac } from '../../dataplane/packet/ethernet.js';
import { overlayMtu as vxlanOverlayMtu } from '../../dataplane/packet/vxlan.js';
import { formatIp4, parseSubnet4 } from '../../control/subnet/ip4.js';
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
  const subnet = parseSubnet4(cidr);
  if (subnet === null)
    throw new VxtunError(
      'VXTUN_ERR_INVALID_ARGUMENT',
      `"${cidr}" is not an IPv4 CIDR whose address is its network address, like 10.244.1.0/24`,
    );
  return formatIp4(subnet.ip);
}

/** A random locally administered unicast MAC, as Flannel generates for its VTEP. */
export function randomVtepMac(): string {
  return formatMac(newVtepMac());
}

/** The overlay MTU of the testbed's underlay (IPv6 outer headers take 20 bytes more than Flannel assumes: flannel#1781). */
export function overlayMtu(tb: Pick<Testbed, 'mtu' | 'ipv6Underlay'>): number {
  return vxlanOverlayMtu(tb.mtu, tb.ipv6Underlay ? 6 : 4);
}
