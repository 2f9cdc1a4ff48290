import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { HostName, Testbed } from '../testbed/netns.js';
import { overlayMtu } from '../testbed/overlay.js';
import { deviceExists, firstLine, writeFiles, type PeerEnd, type PeerEnds, type PeerTool } from './userspace.js';

export const TINC_PORT = 655;

export interface RsaKeyPair {
  /** PKCS#1 PEM, as tinc 1.0 reads it. */
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * tinc 1.0's configuration for both hosts, as relative path → content: `<host>/tinc.conf`, `<host>/rsa_key.priv`
 * and `<host>/hosts/{a,b}`. Router mode on a TUN device, UDP between the underlay addresses, host a connects to b.
 * `Cipher = none` and `Digest = none` in both host files: tinc then neither encrypts nor authenticates packets
 * (its meta connection still authenticates with the RSA keys).
 */
export function tincFiles(ends: PeerEnds, keys: Readonly<Record<HostName, RsaKeyPair>>, dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const family = ends.a.underlayIp.includes(':') ? 'ipv6' : 'ipv4';
  for (const host of ['a', 'b'] as const) {
    const end = ends[host];
    files[`${host}/tinc.conf`] = [
      `Name = ${host}`,
      `Interface = ${end.device}`,
      'DeviceType = tun',
      'Mode = router',
      `AddressFamily = ${family}`,
      `BindToAddress = ${end.underlayIp}`,
      `Port = ${TINC_PORT}`,
      `PrivateKeyFile = ${join(dir, host, 'rsa_key.priv')}`,
      ...(host === 'a' ? ['ConnectTo = b'] : []),
      '',
    ].join('\n');
    files[`${host}/rsa_key.priv`] = keys[host].privateKey;
    for (const other of ['a', 'b'] as const) files[`${host}/hosts/${other}`] = hostFile(ends[other], keys[other]);
  }
  return files;
}

function hostFile(end: PeerEnd, key: RsaKeyPair): string {
  return [
    `Address = ${end.underlayIp} ${TINC_PORT}`,
    `Subnet = ${end.subnet}`,
    'Cipher = none',
    'Digest = none',
    'Compression = 0',
    key.publicKey.trim(),
    '',
  ].join('\n');
}

export function tincKeys(): Record<HostName, RsaKeyPair> {
  const pair = (): RsaKeyPair =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
  return { a: pair(), b: pair() };
}

/** tinc 1.0 handles frames of at most 1518 bytes (its MTU constant without jumbogram support, src/net.h). */
export const TINC_MAX_MTU = 1500;

/**
 * tinc's UDP packet is a 4-byte sequence number + the inner packet with an Ethernet header (14), no MAC with
 * Digest = none: 18 bytes, within the 50 VXLAN takes, so the overlay MTU is the VXLAN modes' — up to what tinc
 * carries at all (larger packets it answers with ICMP "fragmentation needed").
 */
export function tincMtu(tb: Pick<Testbed, 'mtu' | 'ipv6Underlay'>): number {
  return Math.min(overlayMtu(tb), TINC_MAX_MTU);
}

export const tinc: PeerTool = {
  name: 'tinc',
  deviceLetter: 't',
  mtu: (tb) => tincMtu(tb),
  details: async (tb) => `${await firstLine(tb, ['tincd', '--version'])}; router mode, UDP; Cipher = none, ` + 'Digest = none: unencrypted',
  prepare: (ends, dir) => writeFiles(dir, tincFiles(ends, tincKeys(), dir)),
  command: (_ends, host, dir) => [
    'tincd',
    '--config',
    join(dir, host),
    '--no-detach',
    '--debug=1',
    `--pidfile=${join(dir, host, 'tincd.pid')}`,
  ],
  // "Ready" comes after tincd opened the device and its listening sockets.
  ready: async (tb, end, output) => /^Ready$/m.test(output) && (await deviceExists(tb, end)),
};
