/** The underlay's MTU as the host reports it for the interface that holds our public IP. */
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Underlay {
  mtu: number | null;
}

export function findUnderlay(publicIp: string): Underlay {
  const want = publicIp.toLowerCase();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs?.some((a) => a.address.toLowerCase() === want)) continue;
    try {
      return { mtu: Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim()) };
    } catch {
      return { mtu: null };
    }
  }
  return { mtu: null };
}
