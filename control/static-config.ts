/**
 * The `vxtun static` config file: this host and a fixed list of peers. Field names are a contract (README).
 * Validated with zod: every schema problem is reported at once with its JSON path. The address patterns check
 * the shape only (999.1.1.1 passes); the values themselves are checked where the dataplane parses them.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MAX_WORKERS } from '../dataplane/dataplane.js';
import { VxtunError } from '../dataplane/errors.js';
import { DEFAULT_SOURCE_PORTS, DEFAULT_UDP_BUFFER_BYTES } from './host-dataplane.js';
import { VXLAN_DEFAULT_PORT } from './subnet/config.js';

const mac = z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'a MAC address like 02:00:00:00:01:01');
const cidr4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR like 10.244.1.0/24');
const cidr6 = z.string().regex(/^[0-9a-fA-F:]*:[0-9a-fA-F:.]*\/\d{1,3}$/, 'an IPv6 CIDR like fd10:244:1::/64');
const ip = z.string().regex(/^[0-9a-fA-F:.]+$/, 'an IP address');

export const PeerSchema = z
  .object({
    publicIp: ip,
    subnet: cidr4.optional(),
    ipv6Subnet: cidr6.optional(),
    vtepMac: mac,
    ipv6VtepMac: mac.optional(),
  })
  .strict()
  .refine((p) => p.subnet || p.ipv6Subnet, 'a peer needs subnet and/or ipv6Subnet');

export const StaticConfigSchema = z
  .object({
    vni: z.number().int().min(0).max(0xffffff).default(1),
    port: z.number().int().min(1).max(65535).default(VXLAN_DEFAULT_PORT),
    publicIp: ip,
    bindAddress: ip.optional(),
    subnet: cidr4.optional(),
    ipv6Subnet: cidr6.optional(),
    network: cidr4.optional(),
    ipv6Network: cidr6.optional(),
    vtepMac: mac.optional(),
    mtu: z.number().int().min(576).max(65535).optional(),
    underlayMtu: z.number().int().min(1280).max(65535).optional(),
    tunName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 characters')
      .default('vxtun0'),
    workers: z.number().int().min(1).max(MAX_WORKERS).optional(),
    sourcePorts: z.number().int().min(1).max(64).default(DEFAULT_SOURCE_PORTS),
    udpBufferBytes: z
      .number()
      .int()
      .min(65536)
      .max(1 << 30)
      .default(DEFAULT_UDP_BUFFER_BYTES),
    offloads: z.boolean().default(true),
    tunnelGso: z.boolean().default(true),
    stateDir: z.string().min(1).optional(),
    peers: z.array(PeerSchema).default([]),
  })
  .strict()
  .refine((c) => c.subnet || c.ipv6Subnet, 'set subnet and/or ipv6Subnet');

export type StaticConfig = z.infer<typeof StaticConfigSchema>;

export function parseStaticConfig(json: unknown, source: string): StaticConfig {
  const r = StaticConfigSchema.safeParse(json);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n');
  throw new VxtunError('VXTUN_ERR_CONFIG', `${source} is not a valid vxtun static config:\n${problems}`);
}

export function loadStaticConfig(path: string): StaticConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `cannot read config ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `config ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseStaticConfig(json, path);
}
