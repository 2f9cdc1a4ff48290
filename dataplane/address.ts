/**
 * Addresses as text and as bytes: IPv4/IPv6 addresses, CIDRs and MACs, parsed and formatted for configs, logs
 * and the peer table. Bad text is a VXTUN_ERR_CONFIG naming the field.
 */
import { isIP } from 'node:net';
import { VxtunError } from './errors.js';

export interface Cidr {
  family: 4 | 6;
  addr: Uint8Array;
  prefixLen: number;
}

export function parseIpBytes(text: string): Uint8Array | null {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) return null;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parseGroups = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        // embedded IPv4
        const b = g.split('.').map(Number);
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parseGroups(head),
    t = parseGroups(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

export function formatIpBytes(b: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // compress the longest run of zero groups
  let best = -1,
    bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function parseCidr(text: string, what: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text ?? '');
  const addr = m ? parseIpBytes(m[1]) : null;
  const family = addr?.length === 4 ? 4 : 6;
  const prefixLen = m ? Number(m[2]) : -1;
  if (!addr || prefixLen > addr.length * 8) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${what}: "${text}" is not a CIDR like 10.244.1.0/24 or fd00::/64`);
  }
  const masked = maskBytes(addr, prefixLen);
  if (!masked.every((v, i) => v === addr[i])) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${what}: "${text}" has host bits set; use ${formatIpBytes(masked, family)}/${prefixLen}`);
  }
  return { family, addr, prefixLen };
}

export function maskBytes(addr: Uint8Array, prefixLen: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLen - i * 8));
    out[i] = addr[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Whether two CIDRs share an address: one holds the other, or they are the same. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.prefixLen, b.prefixLen);
  const ma = maskBytes(a.addr, len);
  return maskBytes(b.addr, len).every((v, i) => v === ma[i]);
}

/** Whether `inner` lies wholly inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return outer.prefixLen <= inner.prefixLen && cidrsOverlap(inner, outer);
}

export function parseMacBytes(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(text)) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${what}: "${text}" is not a MAC address like 02:00:00:00:01:01`);
  }
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}
