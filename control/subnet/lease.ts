/**
 * A subnet lease as Flannel stores it: key `<prefix>/subnets/10.244.1.0-24`, value the JSON of Go's LeaseAttrs
 * in field order, `{"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}`.
 */
import { isIPv6 } from 'node:net';
import { formatSubnet4, parseSubnet4, type Subnet4 } from './ip4.js';
import { formatSubnet6, parseSubnet6, type Subnet6 } from './ip6.js';

export interface LeaseAttrs {
  readonly publicIp: string;
  /** Absent for vxtun's own leases; other nodes may set it. */
  readonly publicIpv6: string | null;
  /** '' for Flannel's udp backend, which sets only PublicIP. */
  readonly backendType: string;
  /** The backend's data as given; for vxlan `{VNI, VtepMAC}`. */
  readonly backendData: unknown;
  /** The IPv6 side's data in a dual-stack lease (vxlan: `{VNI, VtepMAC}` of flannel-v6.1); undefined otherwise. */
  readonly backendV6Data?: unknown;
}

/** Flannel's key regex: the IPv4 part always comes first; a dual-stack key adds `&<v6>-<len>`. */
const KEY_RE = /(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

/** `10.244.1.0-24`, or with the IPv6 subnet of a dual-stack lease `10.244.1.0-24&fc00:0:0:1::-64`. */
export function subnetKey(s: Subnet4, s6?: Subnet6): string {
  return s6 ? `${formatSubnet4(s, '-')}&${formatSubnet6(s6, '-')}` : formatSubnet4(s, '-');
}

/** The subnets a registry key names (the last path segment), or null for a key Flannel would not parse either. */
export function subnetsFromKey(key: string): { subnet: Subnet4; ipv6Subnet?: Subnet6 } | null {
  const m = KEY_RE.exec(key.slice(key.lastIndexOf('/') + 1));
  const subnet = m ? parseSubnet4(`${m[1]}-${m[2]}`, '-') : null;
  if (!m || !subnet) return null;
  if (m[3] === undefined) return { subnet };
  const ipv6Subnet = parseSubnet6(`${m[3]}-${m[4]}`, '-');
  return ipv6Subnet ? { subnet, ipv6Subnet } : null;
}

/** The IPv4 subnet a registry key names, or null for a key Flannel would not parse either. */
export function subnetFromKey(key: string): Subnet4 | null {
  return subnetsFromKey(key)?.subnet ?? null;
}

/** The IPv4 part of an IPv6-only lease: Go's zero IP4Net, so the key is `0.0.0.0-0&fc00:0:0:1::-64`. */
export const NO_IPV4_SUBNET: Subnet4 = { ip: 0, len: 0 };

/**
 * An IPv6-only vxlan lease as flanneld's vxlan backend writes it: no IPv4 device, so PublicIP stays Go's zero
 * address ("0.0.0.0") and BackendData is omitted; PublicIPv6 and BackendV6Data carry the host.
 */
export function vxlanLeaseAttrsV6Only(publicIpv6: string, vni: number, vtepMac: string): LeaseAttrs {
  return { publicIp: '0.0.0.0', publicIpv6, backendType: 'vxlan', backendData: undefined, backendV6Data: { VNI: vni, VtepMAC: vtepMac } };
}

/** Our vxlan lease; with `dualStack` it also carries BackendV6Data (one VTEP MAC serves both families). */
export function vxlanLeaseAttrs(
  publicIp: string,
  vni: number,
  vtepMac: string,
  dualStack = false,
  publicIpv6: string | null = null,
): LeaseAttrs {
  const data = { VNI: vni, VtepMAC: vtepMac };
  return { publicIp, publicIpv6, backendType: 'vxlan', backendData: data, ...(dualStack ? { backendV6Data: data } : {}) };
}

/** Byte for byte what flanneld's json.Marshal(LeaseAttrs) writes (omitempty drops an empty type or data). */
export function encodeLeaseAttrs(a: LeaseAttrs): string {
  const o: Record<string, unknown> = { PublicIP: a.publicIp, PublicIPv6: a.publicIpv6 };
  if (a.backendType) o.BackendType = a.backendType;
  if (a.backendData !== undefined && a.backendData !== null) o.BackendData = a.backendData;
  if (a.backendV6Data !== undefined && a.backendV6Data !== null) o.BackendV6Data = a.backendV6Data;
  return JSON.stringify(o);
}

/** null when the value is not a lease at all (not JSON, or no PublicIP). */
export function decodeLeaseAttrs(value: string): LeaseAttrs | null {
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const r = o as Record<string, unknown>;
  if (typeof r.PublicIP !== 'string') return null;
  return {
    publicIp: r.PublicIP,
    publicIpv6: typeof r.PublicIPv6 === 'string' ? r.PublicIPv6 : null,
    backendType: typeof r.BackendType === 'string' ? r.BackendType : '',
    backendData: r.BackendData,
    backendV6Data: r.BackendV6Data ?? undefined,
  };
}

const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

/** The peer a vxlan lease describes (with the IPv6 side's VTEP MAC when it has one), or why vxtun cannot use it. */
export function vxlanPeerOf(a: LeaseAttrs, vni: number): { vtepMac: string; ipv6VtepMac?: string } | { skip: string } {
  if (a.backendType !== 'vxlan') return { skip: `backend "${a.backendType || 'udp'}" is not vxlan` };
  const d = (a.backendData ?? {}) as Record<string, unknown>;
  if (typeof d.VtepMAC !== 'string' || !MAC_RE.test(d.VtepMAC)) return { skip: 'BackendData.VtepMAC is missing or not a MAC' };
  // Flannel's vxlan lease carries the VNI; a peer on another VNI would drop our frames and we theirs.
  if (d.VNI !== undefined && d.VNI !== vni) return { skip: `VNI ${String(d.VNI)} differs from ours (${vni})` };
  const d6 = (a.backendV6Data ?? {}) as Record<string, unknown>;
  const v6 = typeof d6.VtepMAC === 'string' && MAC_RE.test(d6.VtepMAC) ? d6.VtepMAC.toLowerCase() : undefined;
  return v6 ? { vtepMac: d.VtepMAC.toLowerCase(), ipv6VtepMac: v6 } : { vtepMac: d.VtepMAC.toLowerCase() };
}

/** The peer an IPv6-only vxlan lease describes: its PublicIPv6 and the VTEP MAC of BackendV6Data. */
export function vxlanV6PeerOf(a: LeaseAttrs, vni: number): { publicIpv6: string; vtepMac: string } | { skip: string } {
  if (a.backendType !== 'vxlan') return { skip: `backend "${a.backendType || 'udp'}" is not vxlan` };
  if (!a.publicIpv6 || !isIPv6(a.publicIpv6)) return { skip: 'PublicIPv6 is missing or not an IPv6 address' };
  const d = (a.backendV6Data ?? {}) as Record<string, unknown>;
  if (typeof d.VtepMAC !== 'string' || !MAC_RE.test(d.VtepMAC)) return { skip: 'BackendV6Data.VtepMAC is missing or not a MAC' };
  if (d.VNI !== undefined && d.VNI !== vni) return { skip: `VNI ${String(d.VNI)} differs from ours (${vni})` };
  return { publicIpv6: a.publicIpv6, vtepMac: d.VtepMAC.toLowerCase() };
}
