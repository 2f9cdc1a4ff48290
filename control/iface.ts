/**
 * Which interface carries the tunnel, chosen as flanneld chooses it: `--iface` (names or addresses, first that
 * exists), else `--iface-regex` (against addresses, then names), else `--iface-can-reach` (the interface the route
 * to that address leaves by), else the interface holding `--public-ip`, else the interface of the default route.
 * The link MTU comes from that interface; `--public-ip` only overrides the advertised address (behind NAT).
 */
import { isIPv4 } from 'node:net';
import { VxtunError } from '../dataplane/errors.js';
import { runCommand, type RunCommand } from './host-command.js';

export interface ExtInterface {
  readonly name: string;
  /** The interface's IPv4 address that faces the other hosts. */
  readonly address: string;
  readonly mtu: number;
  /** Which rule chose it, for the log. */
  readonly how: string;
}

export interface IfaceChoice {
  iface?: readonly string[];
  ifaceRegex?: readonly string[];
  ifaceCanReach?: string;
  publicIp?: string;
}

interface Link {
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; scope?: string }[];
}

export async function findExtInterface(c: IfaceChoice, run: RunCommand = runCommand): Promise<ExtInterface> {
  const links = JSON.parse(await run('ip', ['-j', '-4', 'addr', 'show'])) as Link[];
  const v4 = (l: Link) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local);
  const pick = (l: Link, how: string, address = v4(l)[0]): ExtInterface => {
    if (address === undefined)
      throw new VxtunError(
        'VXTUN_ERR_CONFIG',
        `interface ${l.ifname} (${how}) has no IPv4 address; give it one or choose another with --iface`,
      );
    return { name: l.ifname, address, mtu: l.mtu, how };
  };
  if (c.iface?.length) {
    for (const want of c.iface) {
      const l = isIPv4(want) ? links.find((x) => v4(x).includes(want)) : links.find((x) => x.ifname === want);
      if (l) return pick(l, `--iface ${want}`, isIPv4(want) ? want : undefined);
    }
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `none of --iface ${c.iface.join(', ')} is an interface or IPv4 address of this host; see \`ip addr\``,
    );
  }
  if (c.ifaceRegex?.length) {
    for (const text of c.ifaceRegex) {
      let re: RegExp;
      try {
        re = new RegExp(text);
      } catch (err) {
        throw new VxtunError('VXTUN_ERR_CONFIG', `--iface-regex ${text} is not a regular expression: ${(err as Error).message}`);
      }
      for (const l of links) {
        const address = v4(l).find((a) => re.test(a));
        if (address) return pick(l, `--iface-regex ${text}`, address);
      }
      const l = links.find((x) => re.test(x.ifname));
      if (l) return pick(l, `--iface-regex ${text}`);
    }
    throw new VxtunError('VXTUN_ERR_CONFIG', `no interface name or IPv4 address matches --iface-regex ${c.ifaceRegex.join(', ')}`);
  }
  if (c.ifaceCanReach !== undefined) {
    const route = await routeTo(run, ['route', 'get', c.ifaceCanReach]);
    const l = route && links.find((x) => x.ifname === route.dev);
    if (!l) throw new VxtunError('VXTUN_ERR_CONFIG', `no route from this host reaches --iface-can-reach ${c.ifaceCanReach}`);
    return pick(l, `--iface-can-reach ${c.ifaceCanReach}`, route.prefsrc);
  }
  const holder = c.publicIp === undefined ? undefined : links.find((x) => v4(x).includes(c.publicIp!));
  if (holder) return pick(holder, 'holds --public-ip', c.publicIp);
  const def = await routeTo(run, ['route', 'show', 'default']);
  const l = def && links.find((x) => x.ifname === def.dev);
  if (!l)
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      "this host has no default route to take the tunnel's interface from; choose one with --iface, --iface-regex or --iface-can-reach",
    );
  return pick(l, 'default route');
}

async function routeTo(run: RunCommand, args: string[]): Promise<{ dev: string; prefsrc?: string } | undefined> {
  try {
    return (JSON.parse(await run('ip', ['-j', '-4', ...args])) as { dev: string; prefsrc?: string }[])[0];
  } catch {
    return undefined;
  }
}

/**
 * The global IPv6 address of the tunnel's interface, the underlay of an IPv6-only network when --public-ipv6 is not
 * given (flanneld's vxlan backend binds its flannel-v6 device to that address too).
 */
export async function ipv6AddressOf(ext: ExtInterface, run: RunCommand = runCommand): Promise<string> {
  const links = JSON.parse(await run('ip', ['-j', '-6', 'addr', 'show', 'dev', ext.name, 'scope', 'global'])) as Link[];
  const address = (links[0]?.addr_info ?? []).find((a) => a.family === 'inet6')?.local;
  if (address === undefined)
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `interface ${ext.name} (${ext.how}) has no global IPv6 address, which an IPv6-only network carries its tunnel on; give it one, or pass --public-ipv6`,
    );
  return address;
}
