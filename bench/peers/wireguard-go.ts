import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostName } from '../testbed/netns.js';
import { deviceExists, firstLine, otherHost, writeFiles, type PeerEnd, type PeerTool } from './userspace.js';

export const WIREGUARD_PORT = 51820;
/** Where wireguard-go puts its control socket (fixed in its source, shared by every namespace). */
export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';

export interface WireguardKeyPair {
  /** base64 of the raw 32-byte Curve25519 keys, as `wg` reads and prints them. */
  readonly privateKey: string;
  readonly publicKey: string;
}

export function wireguardKeyPair(): WireguardKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  // The raw key is the last 32 bytes of the PKCS#8 / SPKI encodings.
  const raw = (der: Buffer): string => der.subarray(der.length - 32).toString('base64');
  return {
    privateKey: raw(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: raw(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

/** `wg set` for one end: its private key (a file), its port, and the other end as its only peer. */
export function wgSetArgs(self: PeerEnd, peer: PeerEnd, privateKeyFile: string, peerPublicKey: string): string[] {
  const endpoint = peer.underlayIp.includes(':') ? `[${peer.underlayIp}]` : peer.underlayIp;
  return [
    'wg',
    'set',
    self.device,
    'private-key',
    privateKeyFile,
    'listen-port',
    String(WIREGUARD_PORT),
    'peer',
    peerPublicKey,
    'endpoint',
    `${endpoint}:${WIREGUARD_PORT}`,
    'allowed-ips',
    peer.subnet,
  ];
}

/** WireGuard's outer headers: IP (20, or 40 for IPv6) + UDP 8 + WireGuard 16 + Poly1305 tag 16. */
export function wireguardMtu(underlayMtu: number, ipv6Underlay: boolean): number {
  return underlayMtu - (ipv6Underlay ? 80 : 60);
}

const keyFile = (dir: string, host: HostName): string => join(dir, `${host}.key`);
const publicKeyFile = (dir: string, host: HostName): string => join(dir, `${host}.pub`);

export const wireguardGo: PeerTool = {
  name: 'wireguard-go',
  deviceLetter: 'w',
  mtu: (tb) => wireguardMtu(tb.mtu, tb.ipv6Underlay),
  details: async (tb) =>
    `${await firstLine(tb, ['wireguard-go', '--version'])}; ChaCha20-Poly1305 (WireGuard ` + 'cannot run without it): encrypted',
  prepare: (_ends, dir) => {
    const files: Record<string, string> = {};
    for (const host of ['a', 'b'] as const) {
      const pair = wireguardKeyPair();
      files[`${host}.key`] = `${pair.privateKey}\n`;
      files[`${host}.pub`] = `${pair.publicKey}\n`;
    }
    writeFiles(dir, files);
  },
  command: (ends, host) => ['wireguard-go', '--foreground', ends[host].device],
  ready: async (tb, end) =>
    (await deviceExists(tb, end)) &&
    (await tb.exec(end.host, ['test', '-S', join(WIREGUARD_SOCKET_DIR, `${end.device}.sock`)], { allowFail: true })).code === 0,
  configure: async (tb, ends, host, dir) => {
    const peerKey = readFileSync(publicKeyFile(dir, otherHost(host)), 'utf8').trim();
    await tb.exec(host, wgSetArgs(ends[host], ends[otherHost(host)], keyFile(dir, host), peerKey));
  },
  leftovers: (end) => [join(WIREGUARD_SOCKET_DIR, `${end.device}.sock`)],
};
