/**
 * Flannel's network config (`<prefix>/config`), decoded the way flanneld decodes it: keys match
 * case-insensitively (Go's encoding/json), unknown keys are ignored, and the defaults and checks of
 * Flannel's CheckNetworkConfig apply (SubnetLen, SubnetMin skipping the first subnet, SubnetMax, alignment).
 */
import { VxtunError } from '../../dataplane/errors.js';
import { ENCAP_OVERHEAD_IPV4 } from '../../dataplane/packet/vxlan.js';
import { blockSize, contains, formatIp4, formatSubnet4, parseIp4, parseSubnet4, type Subnet4 } from './ip4.js';

export interface VxlanBackend {
  readonly type: 'vxlan';
  readonly vni: number;
  readonly port: number;
  /**
   * `Backend.MTU` as Flannel reads it: the link (underlay) MTU, default the MTU of the interface that carries the
   * tunnel; the TUN and FLANNEL_MTU get MTU − 50 (IPv4 underlay) or − 70 (IPv6).
   */
  readonly mtu: number | undefined;
  readonly directRouting: boolean;
  /** Fields that are ignored, each with why it is safe to ignore; the agent logs them. */
  readonly warnings: readonly string[];
}

/** Backend fields Flannel's vxlan backend knows; the rest are ignored with a warning. */
const VXLAN_FIELDS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'Learning', 'DirectRouting', 'MacPrefix'];

export interface NetworkConfig {
  readonly network: Subnet4;
  readonly subnetLen: number;
  readonly subnetMin: number;
  readonly subnetMax: number;
  /** `Backend.Type`; Flannel's code treats a missing Backend as "udp". */
  readonly backendType: string;
  /** The Backend object as given (keys in their original spelling). */
  readonly backend: Readonly<Record<string, unknown>>;
}

export const VXLAN_DEFAULT_PORT = 8472;
/** The smallest link MTU that leaves IPv4's 576 for the overlay after the VXLAN overhead over IPv4. */
const MIN_LINK_MTU = 576 + ENCAP_OVERHEAD_IPV4;

function bad(source: string, what: string): VxtunError {
  return new VxtunError('VXTUN_ERR_CONFIG', `network config ${source}: ${what}`);
}

/** Go's decoder: an exact key match wins, else the first key equal ignoring case. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalUint(obj: Record<string, unknown>, name: string, max: number, source: string): number | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(source, `${name} must be an integer in 0..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function optionalIp(obj: Record<string, unknown>, name: string, source: string): number {
  const v = field(obj, name);
  if (v === undefined || v === null || v === '') return 0;
  const ip = typeof v === 'string' ? parseIp4(v) : null;
  if (ip === null) throw bad(source, `${name} must be an IPv4 address string, got ${JSON.stringify(v)}`);
  return ip;
}

export function parseNetworkConfig(text: string, source = '<config>'): NetworkConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(source, `is not JSON (${(err as Error).message}); expected e.g. {"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}`);
  }
  if (!isObject(json)) throw bad(source, 'must be a JSON object like {"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
  const enable4 = field(json, 'EnableIPv4');
  const enable6 = field(json, 'EnableIPv6');
  if (enable4 === false) throw bad(source, 'EnableIPv4 is false; vxtun leases IPv4 subnets only, so set it true or drop it');
  if (enable6 === true) throw bad(source, 'EnableIPv6 is true; vxtun\'s agent leases IPv4 subnets only (IPv6 overlays work with `vxtun static`)');

  const netText = field(json, 'Network');
  if (typeof netText !== 'string') throw bad(source, 'Network is missing; set it to a CIDR such as "10.244.0.0/16"');
  const network = parseSubnet4(netText);
  if (network === null) throw bad(source, `Network ${JSON.stringify(netText)} is not an IPv4 network address in CIDR form such as "10.244.0.0/16"`);

  let subnetLen = optionalUint(json, 'SubnetLen', 32, source) ?? 0;
  if (subnetLen > 0) {
    if (subnetLen > 30) throw bad(source, `SubnetLen ${subnetLen} must be /30 or shorter (each host needs a gateway address and room for hosts)`);
    if (subnetLen < network.len + 2) throw bad(source, `Network ${netText} must be able to hold at least four /${subnetLen} subnets; use a SubnetLen of at least ${network.len + 2}`);
  } else if (network.len > 28) {
    throw bad(source, `Network ${netText} is too small; the smallest useful Network is a /28`);
  } else {
    subnetLen = network.len <= 22 ? 24 : network.len + 2;
  }

  const step = blockSize(subnetLen);
  const last = network.ip + blockSize(network.len) - step;
  const subnetMin = optionalIp(json, 'SubnetMin', source) || network.ip + step;
  const subnetMax = optionalIp(json, 'SubnetMax', source) || last;
  for (const [name, v] of [['SubnetMin', subnetMin], ['SubnetMax', subnetMax]] as const) {
    if (!contains(network, v)) throw bad(source, `${name} ${formatIp4(v)} is not inside Network ${netText}`);
    if (v % step !== 0) throw bad(source, `${name} ${formatIp4(v)} is not on a /${subnetLen} boundary`);
  }
  if (subnetMin > subnetMax) throw bad(source, `SubnetMin ${formatIp4(subnetMin)} is above SubnetMax ${formatIp4(subnetMax)}`);

  const backendRaw = field(json, 'Backend');
  const backend = isObject(backendRaw) ? backendRaw : {};
  if (backendRaw !== undefined && backendRaw !== null && !isObject(backendRaw)) throw bad(source, 'Backend must be an object such as {"Type":"vxlan"}');
  const type = field(backend, 'Type');
  if (type !== undefined && typeof type !== 'string') throw bad(source, 'Backend.Type must be a string such as "vxlan"');
  return { network, subnetLen, subnetMin, subnetMax, backendType: type || 'udp', backend };
}

/** The vxlan backend options vxtun implements; anything it cannot honour is refused rather than ignored. */
export function vxlanBackend(cfg: NetworkConfig, source = '<config>'): VxlanBackend {
  if (cfg.backendType !== 'vxlan') {
    throw bad(source, `Backend.Type is "${cfg.backendType}"${cfg.backendType === 'udp' && field(cfg.backend, 'Type') === undefined ? ' (Flannel\'s default when Backend.Type is missing)' : ''}; vxtun speaks only "vxlan": set "Backend":{"Type":"vxlan"}`);
  }
  const b = cfg.backend as Record<string, unknown>;
  if (field(b, 'GBP') === true) throw bad(source, 'Backend.GBP is not supported by vxtun (it neither sends nor accepts VXLAN Group Policy headers); remove it or set it false');
  const warnings: string[] = [];
  if (field(b, 'Learning') === true) warnings.push('Backend.Learning is ignored: vxtun routes by the leases, so learning source addresses from traffic adds nothing');
  if (field(b, 'MacPrefix') !== undefined) warnings.push('Backend.MacPrefix is ignored: Flannel uses it only on Windows hosts');
  for (const k of Object.keys(b)) {
    if (!VXLAN_FIELDS.some((f) => f.toLowerCase() === k.toLowerCase())) warnings.push(`Backend.${k} is not a field of Flannel's vxlan backend and is ignored`);
  }
  const directRouting = field(b, 'DirectRouting');
  if (directRouting !== undefined && typeof directRouting !== 'boolean') throw bad(source, `Backend.DirectRouting must be true or false, got ${JSON.stringify(directRouting)}`);
  const vni = optionalUint(b, 'VNI', 0xffffff, source) ?? 1;
  const port = optionalUint(b, 'Port', 65535, source) || VXLAN_DEFAULT_PORT;
  const mtu = optionalUint(b, 'MTU', 65535, source) || undefined;
  if (mtu !== undefined && mtu < MIN_LINK_MTU) throw bad(source, `Backend.MTU ${mtu} is the link MTU and must be at least ${MIN_LINK_MTU} (the overlay gets MTU − 50, at least 576)`);
  return { type: 'vxlan', vni, port, mtu, directRouting: directRouting === true, warnings };
}

/** Whether a lease's subnet is one this config could have handed out (Flannel's isSubnetConfigCompat). */
export function inRange(cfg: NetworkConfig, s: Subnet4): boolean {
  return s.len === cfg.subnetLen && s.ip >= cfg.subnetMin && s.ip <= cfg.subnetMax;
}

export function describeConfig(cfg: NetworkConfig): Record<string, string | number> {
  return {
    network: formatSubnet4(cfg.network), subnetLen: cfg.subnetLen,
    subnetMin: formatIp4(cfg.subnetMin), subnetMax: formatIp4(cfg.subnetMax), backend: cfg.backendType,
  };
}
