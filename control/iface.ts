/**
 * Which interface carries the tunnel, chosen as flanneld chooses it: `--iface` (names or addresses, first that
 * exists), else `--iface-regex` (against addresses, then names), else `--iface-can-reach` (the interface the route
 * to that address leaves by), else the interface holding `--public-ip`, else the interface of the default route.
 * The link MTU comes from that interface; `--public-ip` only overrides the advertised address (behind NAT).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { VxtunError } from '../dataplane/errors.js';
import { runCommand, type RunCommand } from './host-command.js';

export interface ExtInterface {
  readonly name: string;
  /** The interface's address that faces the other hosts: IPv4, or IPv6 when chosen with `family: 6`. */
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
  /**
   * 6 in an IPv6-only network: as flanneld's ipv6 stack, addresses (of --iface, --iface-regex, the interface's own)
   * and the default route are IPv6 ones, and publicIp is --public-ipv6. Default 4.
   */
  family?: 4 | 6;
}

interface Link {
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; scope?: string }[];
}

export async function findExtInterface(c: IfaceChoice, run: RunCommand = runCommand): Promise<ExtInterface> {
  const six = c.family === 6;
  const IP = six ? 'IPv6' : 'IPv4';
  const isIp = six ? isIPv6 : isIPv4;
  // IPv6: global addresses only (a link-local one cannot carry the tunnel between hosts).
  const links = JSON.parse(await run('ip', six ? ['-j', '-6', 'addr', 'show', 'scope', 'global'] : ['-j', '-4', 'addr', 'show'])) as Link[];
  const v4 = (l: Link) => (l.addr_info ?? []).filter((a) => a.family === (six ? 'inet6' : 'inet')).map((a) => a.local);
  const pick = (l: Link, how: string, address = v4(l)[0]): ExtInterface => {
    if (address === undefined)
      throw new VxtunError(
        'VXTUN_ERR_CONFIG',
        `interface ${l.ifname} (${how}) has no ${six ? 'global IPv6' : 'IPv4'} address; give it one or choose another with --iface`,
      );
    return { name: l.ifname, address, mtu: l.mtu, how };
  };
  if (c.iface?.length) {
    for (const want of c.iface) {
      const l = isIp(want) ? links.find((x) => v4(x).includes(want)) : links.find((x) => x.ifname === want);
      if (l) return pick(l, `--iface ${want}`, isIp(want) ? want : undefined);
    }
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `none of --iface ${c.iface.join(', ')} is an interface or ${IP} address of this host; see \`ip addr\``,
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
    throw new VxtunError('VXTUN_ERR_CONFIG', `no interface name or ${IP} address matches --iface-regex ${c.ifaceRegex.join(', ')}`);
  }
  if (c.ifaceCanReach !== undefined) {
    const route = await routeTo(run, [six ? '-6' : '-4', 'route', 'get', c.ifaceCanReach]);
    const l = route && links.find((x) => x.ifname === route.dev);
    if (!l) throw new VxtunError('VXTUN_ERR_CONFIG', `no route from this host reaches --iface-can-reach ${c.ifaceCanReach}`);
    return pick(l, `--iface-can-reach ${c.ifaceCanReach}`, route.prefsrc);
  }
  const holder = c.publicIp === undefined ? undefined : links.find((x) => v4(x).includes(c.publicIp!));
  if (holder) return pick(holder, six ? 'holds --public-ipv6' : 'holds --public-ip', c.publicIp);
  const def = await routeTo(run, [six ? '-6' : '-4', 'route', 'show', 'default']);
  const l = def && links.find((x) => x.ifname === def.dev);
  if (!l)
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `this host has no ${six ? 'IPv6 ' : ''}default route to take the tunnel's interface from; choose one with --iface, --iface-regex or --iface-can-reach`,
    );
  return pick(l, 'default route');
}

async function routeTo(run: RunCommand, args: string[]): Promise<{ dev: string; prefsrc?: string } | undefined> {
  try {
    return (JSON.parse(await run('ip', ['-j', ...args])) as { dev: string; prefsrc?: string }[])[0];
  } catch {
    return undefined;
  }
}
