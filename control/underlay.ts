/** Facts about the underlay taken from the host: which interface holds our public IP, and its MTU. */
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Underlay { device: string | null; mtu: number | null }

export function findUnderlay(publicIp: string): Underlay {
  const want = publicIp.toLowerCase();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs?.some((a) => a.address.toLowerCase() === want)) continue;
    try {
      return { device: name, mtu: Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim()) };
    } catch {
      return { device: name, mtu: null };
    }
  }
  return { device: null, mtu: null };
}
