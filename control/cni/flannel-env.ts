/**
 * Reading subnet.env as Flannel's CNI plugin does (flannel-io/cni-plugin, loadFlannelSubnetEnv): one
 * `KEY=value` per line; FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK are comma-separated CIDR lists,
 * FLANNEL_SUBNET / FLANNEL_IPV6_SUBNET a CIDR of which only the network counts (`10.244.3.1/24` is the node's
 * `10.244.3.0/24`), FLANNEL_MTU an integer, FLANNEL_IPMASQ `true` or `false`. Unknown keys are ignored.
 * Stricter than Flannel where Flannel silently guesses: a value that does not parse is an error naming the line.
 */
import { readFileSync } from 'node:fs';
import { formatIpBytes, maskBytes, parseIpBytes } from '../../dataplane/address.js';
import { CniCode, CniError } from './errors.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

/** A node subnet as the delegate needs it: the range to allocate from and the gateway address on the bridge. */
export interface NodeSubnet {
  /** Network address form, e.g. `10.244.3.0/24`. */
  readonly cidr: string;
  /** The first address, e.g. `10.244.3.1`: host-local's default gateway, held by the bridge. */
  readonly gateway: string;
}

export interface FlannelEnv {
  /** Whole-overlay networks, IPv4 then IPv6, each in network address form. */
  readonly networks: readonly string[];
  /** The node's subnets, IPv4 first when present. */
  readonly subnets: readonly NodeSubnet[];
  readonly mtu: number;
  readonly ipMasq: boolean;
}

/** Reads and parses the file; a missing file is "try again later" (the agent has not leased a subnet yet). */
export function readFlannelEnv(path: string): FlannelEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CniError(
        CniCode.TRY_AGAIN_LATER,
        `${path} does not exist yet: the vxtun agent writes it once it holds a subnet lease; ` +
          'start `vxtun agent` on this host (or point "subnetFile" at the file it writes) and retry',
      );
    }
    throw new CniError(CniCode.IO_FAILURE, `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseFlannelEnv(text, path);
}

export function parseFlannelEnv(text: string, path = 'subnet.env'): FlannelEnv {
  const bad = (line: string, why: string) =>
    new CniError(
      CniCode.DECODE_FAILURE,
      `${path}: "${line}" ${why}; the vxtun agent (or flanneld) rewrites this file: restart it, or fix the line`,
    );
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const at = line.indexOf('=');
    if (line === '' || line.startsWith('#')) continue;
    if (at < 1) throw bad(line, 'is not KEY=value');
    values.set(line.slice(0, at), line.slice(at + 1));
  }
  const networksOf = (key: string, family: 4 | 6): string[] => {
    const text = values.get(key);
    if (text === undefined || text === '') return [];
    const out: string[] = [];
    for (const item of text.split(',')) {
      const cidr = parseFamilyCidr(item.trim(), family);
      if (cidr === null) throw bad(`${key}=${text}`, `is not a list of IPv${family} CIDRs`);
      if (!out.includes(cidr.cidr)) out.push(cidr.cidr);
    }
    return out;
  };
  const subnetOf = (key: string, family: 4 | 6): NodeSubnet | undefined => {
    const text = values.get(key);
    if (text === undefined || text === '') return undefined;
    const cidr = parseFamilyCidr(text, family);
    if (cidr === null) throw bad(`${key}=${text}`, `is not an IPv${family} CIDR`);
    return cidr;
  };
  const networks = [...networksOf('FLANNEL_NETWORK', 4), ...networksOf('FLANNEL_IPV6_NETWORK', 6)];
  const subnets = [subnetOf('FLANNEL_SUBNET', 4), subnetOf('FLANNEL_IPV6_SUBNET', 6)].filter((s): s is NodeSubnet => s !== undefined);
  const mtuText = values.get('FLANNEL_MTU');
  const masqText = values.get('FLANNEL_IPMASQ');
  const missing = [
    networks.length === 0 ? 'FLANNEL_NETWORK or FLANNEL_IPV6_NETWORK' : '',
    subnets.length === 0 ? 'FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET' : '',
    mtuText === undefined ? 'FLANNEL_MTU' : '',
    masqText === undefined ? 'FLANNEL_IPMASQ' : '',
  ].filter((m) => m !== '');
  if (missing.length > 0) {
    throw new CniError(
      CniCode.DECODE_FAILURE,
      `${path} is missing ${missing.join(', ')}; ` +
        'the vxtun agent (or flanneld) writes a complete file: check that the file is its own and restart it',
    );
  }
  const mtu = Number(mtuText);
  if (!/^\d+$/.test(mtuText!) || mtu < 576 || mtu > 65535) throw bad(`FLANNEL_MTU=${mtuText}`, 'is not an MTU in 576..65535');
  if (masqText !== 'true' && masqText !== 'false') throw bad(`FLANNEL_IPMASQ=${masqText}`, 'is neither true nor false');
  return { networks, subnets, mtu, ipMasq: masqText === 'true' };
}

/** `10.244.3.1/24` -> cidr `10.244.3.0/24`, gateway `10.244.3.1`; null unless a CIDR of that family. */
function parseFamilyCidr(text: string, family: 4 | 6): NodeSubnet | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const addr = m ? parseIpBytes(m[1]) : null;
  const len = m ? Number(m[2]) : -1;
  if (addr === null || addr.length !== (family === 4 ? 4 : 16) || len > addr.length * 8 || len < 1) return null;
  const network = maskBytes(addr, len);
  const gateway = Uint8Array.from(network);
  for (let i = gateway.length - 1; i >= 0; i--) {
    gateway[i] = (gateway[i] + 1) & 0xff;
    if (gateway[i] !== 0) break;
  }
  return { cidr: `${formatIpBytes(network, family)}/${len}`, gateway: formatIpBytes(gateway, family) };
}
