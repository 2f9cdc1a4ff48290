/**
 * IPv4 subnets as unsigned 32-bit numbers: the arithmetic the lease policy needs (align, step, overlap)
 * and Flannel's two spellings, `10.244.1.0/24` and the registry key form `10.244.1.0-24`.
 */
import { isIPv4 } from 'node:net';

export interface Subnet4 {
  /** Network address as an unsigned 32-bit integer. */
  readonly ip: number;
  readonly len: number;
}

export function parseIp4(text: string): number | null {
  if (!isIPv4(text)) return null;
  return text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function formatIp4(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.');
}

/** Number of addresses in a /len. */
export function blockSize(len: number): number {
  return 2 ** (32 - len);
}

/** `10.244.1.0/24` (sep '/') or `10.244.1.0-24` (sep '-'); null when malformed or host bits are set. */
export function parseSubnet4(text: string, sep: '/' | '-' = '/'): Subnet4 | null {
  const at = text.lastIndexOf(sep);
  if (at < 0) return null;
  const ip = parseIp4(text.slice(0, at));
  const lenText = text.slice(at + 1);
  if (ip === null || !/^\d{1,2}$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > 32 || ip % blockSize(len) !== 0) return null;
  return { ip, len };
}

export function formatSubnet4(s: Subnet4, sep: '/' | '-' = '/'): string {
  return `${formatIp4(s.ip)}${sep}${s.len}`;
}

export function contains(outer: Subnet4, ip: number): boolean {
  return ip >= outer.ip && ip < outer.ip + blockSize(outer.len);
}

export function overlaps(a: Subnet4, b: Subnet4): boolean {
  return a.ip < b.ip + blockSize(b.len) && b.ip < a.ip + blockSize(a.len);
}

export function sameSubnet(a: Subnet4, b: Subnet4): boolean {
  return a.ip === b.ip && a.len === b.len;
}
