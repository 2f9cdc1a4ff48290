/**
 * `/run/flannel/subnet.env`, the file Flannel's CNI plugin and Docker read: written atomically (temp file,
 * fsync, rename) in flanneld's order, and read back at startup for the previous subnet.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { VxtunError } from '../../dataplane/errors.js';
import { blockSize, formatIp4, formatSubnet4, parseIp4, type Subnet4 } from './ip4.js';
import { blockSize6, formatIp6, formatSubnet6, parseIp6, type Subnet6 } from './ip6.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export interface SubnetEnv {
  /** The IPv4 side; both absent in an IPv6-only network, where flanneld writes neither FLANNEL_NETWORK nor FLANNEL_SUBNET. */
  network?: Subnet4;
  subnet?: Subnet4;
  /** Dual stack: FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET, Flannel's names, between SUBNET and MTU. */
  ipv6?: { network: Subnet6; subnet: Subnet6 };
  mtu: number;
  ipMasq: boolean;
}

export function formatSubnetEnv(e: SubnetEnv): string {
  return [
    ...(e.network && e.subnet
      ? [
          `FLANNEL_NETWORK=${formatSubnet4(e.network)}`,
          // The first usable address: the CNI bridge takes it, while <subnet>.0 sits on the TUN.
          `FLANNEL_SUBNET=${formatIp4(e.subnet.ip + 1)}/${e.subnet.len}`,
        ]
      : []),
    ...(e.ipv6
      ? [
          `FLANNEL_IPV6_NETWORK=${formatSubnet6(e.ipv6.network)}`,
          `FLANNEL_IPV6_SUBNET=${formatIp6(e.ipv6.subnet.ip + 1n)}/${e.ipv6.subnet.len}`,
        ]
      : []),
    `FLANNEL_MTU=${e.mtu}`,
    `FLANNEL_IPMASQ=${e.ipMasq}`,
    '',
  ].join('\n');
}

export function writeSubnetEnv(path: string, e: SubnetEnv): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, formatSubnetEnv(e));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_STATE_DIR', `cannot write ${path}: ${(err as Error).message}; pass --subnet-file to a writable path`, {
      cause: err,
    });
  }
}

/** The subnet a previous run wrote (FLANNEL_SUBNET, e.g. 10.244.3.1/24 -> 10.244.3.0/24); undefined if none. */
export function readPreviousSubnet(path: string): Subnet4 | undefined {
  const text = readIfPresent(path);
  if (text === undefined) return undefined;
  const m = /^FLANNEL_SUBNET=(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})\s*$/m.exec(text);
  const ip = m ? parseIp4(m[1]) : null;
  const len = m ? Number(m[2]) : 33;
  if (ip === null || len > 32) return undefined;
  return { ip: ip - (ip % blockSize(len)), len };
}

/** The IPv6 subnet a previous dual-stack run wrote (FLANNEL_IPV6_SUBNET, e.g. fc00:0:0:3::1/64 -> fc00:0:0:3::/64). */
export function readPreviousIpv6Subnet(path: string): Subnet6 | undefined {
  const text = readIfPresent(path);
  if (text === undefined) return undefined;
  const m = /^FLANNEL_IPV6_SUBNET=([0-9a-fA-F:.]+)\/(\d{1,3})\s*$/m.exec(text);
  const ip = m ? parseIp6(m[1]) : null;
  const len = m ? Number(m[2]) : 129;
  if (ip === null || len > 128) return undefined;
  return { ip: ip - (ip % blockSize6(len)), len };
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
