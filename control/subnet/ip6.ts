/**
 * IPv6 subnets as 128-bit bigints, for Flannel's dual-stack leases: the arithmetic the lease policy needs and the
 * spelling Go's net.IP.String() gives (lowercase, the longest run of two or more zero groups as `::`), which is
 * what Flannel writes into registry keys (`10.5.72.0-24&fc00:0:0:1::-64`) and subnet.env.
 */
import { isIPv6 } from 'node:net';

export interface Subnet6 {
  readonly ip: bigint;
  readonly len: number;
}

export function parseIp6(text: string): bigint | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let t = text.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatIp6(ip: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1,
    bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Number of addresses in a /len. */
export function blockSize6(len: number): bigint {
  return 1n << BigInt(128 - len);
}

/** `fc00::/64` (sep '/') or `fc00::-64` (sep '-'); null when malformed or host bits are set. */
export function parseSubnet6(text: string, sep: '/' | '-' = '/'): Subnet6 | null {
  const at = text.lastIndexOf(sep);
  if (at < 0) return null;
  const ip = parseIp6(text.slice(0, at));
  const lenText = text.slice(at + 1);
  if (ip === null || !/^\d{1,3}$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > 128 || (ip & (blockSize6(len) - 1n)) !== 0n) return null;
  return { ip, len };
}

export function formatSubnet6(s: Subnet6, sep: '/' | '-' = '/'): string {
  return `${formatIp6(s.ip)}${sep}${s.len}`;
}

export function contains6(outer: Subnet6, ip: bigint): boolean {
  return ip >= outer.ip && ip < outer.ip + blockSize6(outer.len);
}

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  return a.ip < b.ip + blockSize6(b.len) && b.ip < a.ip + blockSize6(a.len);
}

export function sameSubnet6(a: Subnet6 | null | undefined, b: Subnet6 | null | undefined): boolean {
  return (!a && !b) || (!!a && !!b && a.ip === b.ip && a.len === b.len);
}
