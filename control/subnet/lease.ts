/**
 * A subnet lease as Flannel stores it: key `<prefix>/subnets/10.244.1.0-24`, value the JSON of Go's LeaseAttrs
 * in field order, `{"PublicIP":"…","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}`.
 */
import { formatSubnet4, parseSubnet4, type Subnet4 } from './ip4.js';

export interface LeaseAttrs {
  readonly publicIp: string;
  /** Absent for vxtun's own leases; other nodes may set it. */
  readonly publicIpv6: string | null;
  /** '' for Flannel's udp backend, which sets only PublicIP. */
  readonly backendType: string;
  /** The backend's data as given; for vxlan `{VNI, VtepMAC}`. */
  readonly backendData: unknown;
}

/** Flannel's key regex: the IPv4 part always comes first; a dual-stack key adds `&<v6>-<len>`. */
const KEY_RE = /(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

export function subnetKey(s: Subnet4): string {
  return formatSubnet4(s, '-');
}

/** The IPv4 subnet a registry key names (the last path segment), or null for a key Flannel would not parse either. */
export function subnetFromKey(key: string): Subnet4 | null {
  const m = KEY_RE.exec(key.slice(key.lastIndexOf('/') + 1));
  return m ? parseSubnet4(`${m[1]}-${m[2]}`, '-') : null;
}

export function vxlanLeaseAttrs(publicIp: string, vni: number, vtepMac: string): LeaseAttrs {
  return { publicIp, publicIpv6: null, backendType: 'vxlan', backendData: { VNI: vni, VtepMAC: vtepMac } };
}

/** Byte for byte what flanneld's json.Marshal(LeaseAttrs) writes (omitempty drops an empty type or data). */
export function encodeLeaseAttrs(a: LeaseAttrs): string {
  const o: Record<string, unknown> = { PublicIP: a.publicIp, PublicIPv6: a.publicIpv6 };
  if (a.backendType) o.BackendType = a.backendType;
  if (a.backendData !== undefined && a.backendData !== null) o.BackendData = a.backendData;
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
  };
}

/** The peer a vxlan lease describes, or why vxtun cannot use it. */
export function vxlanPeerOf(a: LeaseAttrs, vni: number): { vtepMac: string } | { skip: string } {
  if (a.backendType !== 'vxlan') return { skip: `backend "${a.backendType || 'udp'}" is not vxlan` };
  const d = (a.backendData ?? {}) as Record<string, unknown>;
  if (typeof d.VtepMAC !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(d.VtepMAC)) return { skip: 'BackendData.VtepMAC is missing or not a MAC' };
  // Flannel's vxlan lease carries the VNI; a peer on another VNI would drop our frames and we theirs.
  if (d.VNI !== undefined && d.VNI !== vni) return { skip: `VNI ${String(d.VNI)} differs from ours (${vni})` };
  return { vtepMac: d.VtepMAC.toLowerCase() };
}
