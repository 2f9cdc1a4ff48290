/**
 * The `vxtun` plugin's network config and the config it hands to its delegate, as Flannel's CNI plugin builds
 * it (flannel-io/cni-plugin, doCmdAdd / getDelegateIPAM): the node subnet(s) as host-local ranges, FLANNEL_MTU as
 * the MTU, a route to every overlay network, `isGateway`, and `ipMasq` = NOT FLANNEL_IPMASQ (the agent masquerades
 * itself when it is true). Keys under `delegate` override those defaults; the input `ipam` keeps its other keys.
 *
 * Where vxtun differs from Flannel's plugin, on purpose:
 * - routes carry the gateway explicitly (the same address the bridge would use), so the bridge's CHECK finds them
 *   (bridge before v1.3.0 fails CHECK on routes without `gw`);
 * - a bridge delegate also gets `isDefaultGateway: true` unless told otherwise: containers get a default route, as
 *   with Flannel's stock config, which sets it under `delegate`.
 */
import { z } from 'zod';
import { CniCode, CniError } from './errors.js';
import type { FlannelEnv } from './flannel-env.js';
import { DEFAULT_SUBNET_FILE } from './flannel-env.js';

export const DEFAULT_DATA_DIR = '/var/lib/cni/vxtun';

const jsonObject = z.record(z.string(), z.unknown());

const netConfSchema = z.looseObject({
  cniVersion: z.string().optional(),
  name: z.string().min(1),
  type: z.string().optional(),
  subnetFile: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  ipam: jsonObject.optional(),
  delegate: jsonObject.optional(),
  runtimeConfig: jsonObject.optional(),
  prevResult: jsonObject.optional(),
});

export type NetConf = z.infer<typeof netConfSchema>;

/** Validates what the runtime passed on stdin (already JSON); code 7 naming the field, 2 for refused delegate keys. */
export function parseNetConf(value: unknown): NetConf {
  const parsed = netConfSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the config';
    throw new CniError(
      CniCode.INVALID_CONFIG,
      `invalid network config: ${where}: ${issue.message}; see \`vxtun cni config\` for a valid one`,
    );
  }
  const delegate = parsed.data.delegate ?? {};
  if (delegate.type !== undefined && (typeof delegate.type !== 'string' || delegate.type === '')) {
    throw new CniError(
      CniCode.INVALID_CONFIG,
      `invalid network config: "delegate.type" must be a plugin name such as "bridge", got ${JSON.stringify(delegate.type)}`,
    );
  }
  for (const key of ['name', 'ipam'] as const) {
    if (delegate[key] !== undefined) {
      throw new CniError(
        CniCode.UNSUPPORTED_FIELD,
        `"delegate.${key}" = ${JSON.stringify(delegate[key])} is not allowed: ` +
          `the plugin sets the delegate's ${key} itself; put ${key === 'ipam' ? 'IPAM keys under the top-level "ipam"' : 'the name at the top level'}`,
      );
    }
  }
  return parsed.data;
}

export function subnetFileOf(conf: NetConf): string {
  return conf.subnetFile ?? DEFAULT_SUBNET_FILE;
}

export function dataDirOf(conf: NetConf): string {
  return conf.dataDir ?? DEFAULT_DATA_DIR;
}

/** The complete config the delegate (by default `bridge` with `host-local`) gets. */
export function buildDelegateConfig(conf: NetConf, env: FlannelEnv): Record<string, unknown> {
  const d: Record<string, unknown> = { ...conf.delegate };
  d.name = conf.name;
  d.type ??= 'bridge';
  d.ipMasq ??= !env.ipMasq;
  d.mtu ??= env.mtu;
  if (d.type === 'bridge') {
    d.isGateway ??= true;
    d.isDefaultGateway ??= true;
  }
  if (conf.cniVersion) d.cniVersion = conf.cniVersion;
  if (conf.runtimeConfig) d.runtimeConfig = conf.runtimeConfig;

  const ipam: Record<string, unknown> = { ...conf.ipam };
  ipam.type ??= 'host-local';
  ipam.ranges = env.subnets.map((s) => [{ subnet: s.cidr }]);
  const extraRoutes = Array.isArray(ipam.routes) ? ipam.routes : [];
  // A network of a family the node has no subnet in gets no route: the container has no address to use it with.
  const gatewayFor = (network: string) => env.subnets.find((s) => s.cidr.includes(':') === network.includes(':'))?.gateway;
  const overlayRoutes = env.networks.flatMap((dst) => {
    const gw = gatewayFor(dst);
    return gw === undefined ? [] : [{ dst, gw }];
  });
  ipam.routes = [...extraRoutes, ...overlayRoutes];
  d.ipam = ipam;
  return d;
}
