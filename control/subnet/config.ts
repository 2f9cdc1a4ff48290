/**
 * Flannel's network config (`<prefix>/config`), decoded the way flanneld decodes it: keys match
 * case-insensitively (Go's encoding/json), unknown keys are ignored, and the defaults and checks of
 * Flannel's CheckNetworkConfig apply (SubnetLen, SubnetMin skipping the first subnet, SubnetMax, alignment).
 */
import { VxtunError } from '../../dataplane/errors.js';
import { ENCAP_OVERHEAD_IPV4 } from '../../dataplane/packet/vxlan.js';
import { blockSize, contains, formatIp4, formatSubnet4, parseIp4, parseSubnet4, type Subnet4 } from './ip4.js';
import { blockSize6, contains6, formatIp6, formatSubnet6, parseIp6, parseSubnet6, type Subnet6 } from './ip6.js';

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
  /**
   * False for an IPv6-only network (`"EnableIPv4": false`): then, as in Flannel's Config, the IPv4 fields are
   * zero (network 0.0.0.0/0, subnetLen/Min/Max 0) and every lease's IPv4 part is 0.0.0.0/0.
   */
  readonly enableIPv4: boolean;
  readonly network: Subnet4;
  readonly subnetLen: number;
  readonly subnetMin: number;
  readonly subnetMax: number;
  /** Dual stack (`EnableIPv6` with `IPv6Network`): the IPv6 side, with Flannel's defaults; null when IPv6 is off. */
  readonly ipv6: Ipv6Config | null;
  /** `Backend.Type`; Flannel's code treats a missing Backend as "udp". */
  readonly backendType: string;
  /** The Backend object as given (keys in their original spelling). */
  readonly backend: Readonly<Record<string, unknown>>;
  /** The whole config object as given. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface Ipv6Config {
  readonly network: Subnet6;
  readonly subnetLen: number;
  readonly subnetMin: bigint;
  readonly subnetMax: bigint;
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
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw bad(source, `${name} must be an integer in 0..${max}, got ${JSON.stringify(v)}`);
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
  if (enable4 !== undefined && enable4 !== null && typeof enable4 !== 'boolean')
    throw bad(source, `EnableIPv4 must be true or false, got ${JSON.stringify(enable4)}`);
  if (enable6 !== undefined && enable6 !== null && typeof enable6 !== 'boolean')
    throw bad(source, `EnableIPv6 must be true or false, got ${JSON.stringify(enable6)}`);
  if (enable4 === false && enable6 !== true)
    throw bad(source, 'EnableIPv4 and EnableIPv6 are both off; enable at least one (IPv6 needs IPv6Network too)');
  const ipv6 = enable6 === true ? parseIpv6Config(json, source) : null;
  for (const multi of ['Networks', 'IPv6Networks']) {
    if (field(json, multi) !== undefined)
      throw bad(source, `${multi} (several networks) is not supported by vxtun; give one network in ${multi.slice(0, -1)}`);
  }
  const { type, backend } = backendOf(json, source);
  if (enable4 === false) {
    // Flannel's CheckNetworkConfig skips every IPv4 check then, and leaves the IPv4 fields at their zero values.
    const zero = { ip: 0, len: 0 };
    return {
      enableIPv4: false,
      network: zero,
      subnetLen: 0,
      subnetMin: 0,
      subnetMax: 0,
      ipv6,
      backendType: type || 'udp',
      backend,
      raw: json,
    };
  }

  const netText = field(json, 'Network');
  if (typeof netText !== 'string') throw bad(source, 'Network is missing; set it to a CIDR such as "10.244.0.0/16"');
  const network = parseSubnet4(netText);
  if (network === null)
    throw bad(source, `Network ${JSON.stringify(netText)} is not an IPv4 network address in CIDR form such as "10.244.0.0/16"`);

  const subnetLen = subnetLenOf(json, { field: 'SubnetLen', network: 'Network', bits: 32, usual: 24 }, netText, network.len, source);

  const step = blockSize(subnetLen);
  const last = network.ip + blockSize(network.len) - step;
  const subnetMin = optionalIp(json, 'SubnetMin', source) || network.ip + step;
  const subnetMax = optionalIp(json, 'SubnetMax', source) || last;
  for (const [name, v] of [
    ['SubnetMin', subnetMin],
    ['SubnetMax', subnetMax],
  ] as const) {
    if (!contains(network, v)) throw bad(source, `${name} ${formatIp4(v)} is not inside Network ${netText}`);
    if (v % step !== 0) throw bad(source, `${name} ${formatIp4(v)} is not on a /${subnetLen} boundary`);
  }
  if (subnetMin > subnetMax) throw bad(source, `SubnetMin ${formatIp4(subnetMin)} is above SubnetMax ${formatIp4(subnetMax)}`);

  return { enableIPv4: true, network, subnetLen, subnetMin, subnetMax, ipv6, backendType: type || 'udp', backend, raw: json };
}

function backendOf(json: Record<string, unknown>, source: string): { type: string | undefined; backend: Record<string, unknown> } {
  const backendRaw = field(json, 'Backend');
  const backend = isObject(backendRaw) ? backendRaw : {};
  if (backendRaw !== undefined && backendRaw !== null && !isObject(backendRaw))
    throw bad(source, 'Backend must be an object such as {"Type":"vxlan"}');
  const type = field(backend, 'Type');
  if (type !== undefined && typeof type !== 'string') throw bad(source, 'Backend.Type must be a string such as "vxlan"');
  return { type, backend };
}

/**
 * Flannel's SubnetLen rules for either family: at most bits − 2 (room for a gateway and hosts), at least four
 * subnets in the network; default `usual` (/24, /64) when the network is wide enough, else the network's prefix + 2.
 */
function subnetLenOf(
  json: Record<string, unknown>,
  f: { field: string; network: string; bits: number; usual: number },
  netText: string,
  netLen: number,
  source: string,
): number {
  const len = optionalUint(json, f.field, f.bits, source) ?? 0;
  if (len > 0) {
    if (len > f.bits - 2)
      throw bad(source, `${f.field} ${len} must be /${f.bits - 2} or shorter (each host needs a gateway address and room for hosts)`);
    if (len < netLen + 2)
      throw bad(
        source,
        `${f.network} ${netText} must be able to hold at least four /${len} subnets; use a ${f.field} of at least ${netLen + 2}`,
      );
    return len;
  }
  if (netLen > f.bits - 4) throw bad(source, `${f.network} ${netText} is too small; the smallest useful ${f.network} is a /${f.bits - 4}`);
  return netLen <= f.usual - 2 ? f.usual : netLen + 2;
}

/** Flannel's IPv6 checks: IPv6SubnetLen default 64 (prefix + 2 for a network longer than /62), at most /126. */
function parseIpv6Config(json: Record<string, unknown>, source: string): Ipv6Config {
  const netText = field(json, 'IPv6Network');
  if (typeof netText !== 'string') throw bad(source, 'EnableIPv6 is true but IPv6Network is missing; set it to a CIDR such as "fc00::/48"');
  const network = parseSubnet6(netText);
  if (network === null)
    throw bad(source, `IPv6Network ${JSON.stringify(netText)} is not an IPv6 network address in CIDR form such as "fc00::/48"`);
  const subnetLen = subnetLenOf(
    json,
    { field: 'IPv6SubnetLen', network: 'IPv6Network', bits: 128, usual: 64 },
    netText,
    network.len,
    source,
  );
  const step = blockSize6(subnetLen);
  const ip6 = (name: string): bigint => {
    const v = field(json, name);
    if (v === undefined || v === null || v === '') return 0n;
    const ip = typeof v === 'string' ? parseIp6(v) : null;
    if (ip === null) throw bad(source, `${name} must be an IPv6 address string, got ${JSON.stringify(v)}`);
    return ip;
  };
  const subnetMin = ip6('IPv6SubnetMin') || network.ip + step;
  const subnetMax = ip6('IPv6SubnetMax') || network.ip + blockSize6(network.len) - step;
  for (const [name, v] of [
    ['IPv6SubnetMin', subnetMin],
    ['IPv6SubnetMax', subnetMax],
  ] as const) {
    if (!contains6(network, v)) throw bad(source, `${name} ${formatIp6(v)} is not inside IPv6Network ${netText}`);
    if (v % step !== 0n) throw bad(source, `${name} ${formatIp6(v)} is not on a /${subnetLen} boundary`);
  }
  if (subnetMin > subnetMax) throw bad(source, `IPv6SubnetMin ${formatIp6(subnetMin)} is above IPv6SubnetMax ${formatIp6(subnetMax)}`);
  return { network, subnetLen, subnetMin, subnetMax };
}

/** The vxlan backend options vxtun implements; anything it cannot honour is refused rather than ignored. */
export function vxlanBackend(cfg: NetworkConfig, source = '<config>'): VxlanBackend {
  if (cfg.backendType !== 'vxlan') {
    throw bad(
      source,
      `Backend.Type is "${cfg.backendType}"${cfg.backendType === 'udp' && field(cfg.backend, 'Type') === undefined ? " (Flannel's default when Backend.Type is missing)" : ''}; vxtun speaks only "vxlan": set "Backend":{"Type":"vxlan"}`,
    );
  }
  const b = cfg.backend as Record<string, unknown>;
  if (field(b, 'GBP') === true)
    throw bad(
      source,
      'Backend.GBP is not supported by vxtun (it neither sends nor accepts VXLAN Group Policy headers); remove it or set it false',
    );
  const warnings: string[] = [];
  if (field(cfg.raw, 'EnableNFTables') !== undefined)
    warnings.push('EnableNFTables is ignored: --ip-masq uses nftables where the host has nft, else iptables');
  if (field(b, 'Learning') === true)
    warnings.push('Backend.Learning is ignored: vxtun routes by the leases, so learning source addresses from traffic adds nothing');
  if (field(b, 'MacPrefix') !== undefined) warnings.push('Backend.MacPrefix is ignored: Flannel uses it only on Windows hosts');
  for (const k of Object.keys(b)) {
    if (!VXLAN_FIELDS.some((f) => f.toLowerCase() === k.toLowerCase()))
      warnings.push(`Backend.${k} is not a field of Flannel's vxlan backend and is ignored`);
  }
  const directRouting = field(b, 'DirectRouting');
  if (directRouting !== undefined && typeof directRouting !== 'boolean')
    throw bad(source, `Backend.DirectRouting must be true or false, got ${JSON.stringify(directRouting)}`);
  const vni = optionalUint(b, 'VNI', 0xffffff, source) ?? 1;
  const port = optionalUint(b, 'Port', 65535, source) || VXLAN_DEFAULT_PORT;
  const mtu = optionalUint(b, 'MTU', 65535, source) || undefined;
  if (mtu !== undefined && mtu < MIN_LINK_MTU)
    throw bad(source, `Backend.MTU ${mtu} is the link MTU and must be at least ${MIN_LINK_MTU} (the overlay gets MTU − 50, at least 576)`);
  return { type: 'vxlan', vni, port, mtu, directRouting: directRouting === true, warnings };
}

/** Whether a lease's subnet is one this config could have handed out (Flannel's isSubnetConfigCompat). */
export function inRange(cfg: NetworkConfig, s: Subnet4): boolean {
  if (!cfg.enableIPv4) return s.ip === 0 && s.len === 0;
  return s.len === cfg.subnetLen && s.ip >= cfg.subnetMin && s.ip <= cfg.subnetMax;
}

/** The same for the IPv6 part: present exactly when the config has IPv6, and inside its range. */
export function inRange6(cfg: NetworkConfig, s: Subnet6 | undefined): boolean {
  if (!cfg.ipv6) return s === undefined;
  return s !== undefined && s.len === cfg.ipv6.subnetLen && s.ip >= cfg.ipv6.subnetMin && s.ip <= cfg.ipv6.subnetMax;
}

export function describeConfig(cfg: NetworkConfig): Record<string, string | number> {
  return {
    ...(cfg.enableIPv4
      ? {
          network: formatSubnet4(cfg.network),
          subnetLen: cfg.subnetLen,
          subnetMin: formatIp4(cfg.subnetMin),
          subnetMax: formatIp4(cfg.subnetMax),
        }
      : { ipv4: 'off (IPv6-only)' }),
    backend: cfg.backendType,
    ...(cfg.ipv6 ? { ipv6Network: formatSubnet6(cfg.ipv6.network), ipv6SubnetLen: cfg.ipv6.subnetLen } : {}),
  };
}
