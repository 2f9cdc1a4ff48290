/**
 * The WAN between the two hosts (`--wan delay=…,loss=…`). Without sch_netem in the kernel, the delay and loss
 * come from a relay of our own: each host's veth ends in a namespace `<prefix>w` that routes between them (proxy
 * ARP, so the hosts keep their addresses on one /24), and policy routing sends every packet that arrives from a
 * host into a TUN device that bench/faults/tun-relay.mjs reads, impairs and writes back; the kernel then forwards
 * it to the other host. Every mode's traffic (IP, ICMP, every tunnel's UDP and tinc's TCP) takes this path.
 *
 *   host a  <p>a0 198.18.X.1 ── <p>a1 ┐ iif <p>a1 or <p>b1 → table 100 → TUN <p>wt → tun-relay.mjs ┌ <p>b1 ── 198.18.X.2 <p>b0  host b
 *                                     └────── written back to <p>wt → main table: 198.18.X.n/32 ───┘
 */
import { VxtunError } from '../../dataplane/errors.js';
import { run, type ExecResult, type TrackedProcess } from './process.js';
import { startRelayProcess } from './relay-process.js';

export interface WanOptions {
  /** One-way delay added on each direction, so the round trip grows by twice this. */
  readonly delayMs: number;
  /** Loss applied on each direction. */
  readonly lossPct: number;
}

/** The longest one-way delay the relay takes (bench/faults/impair.mjs checks the same bound). */
export const MAX_WAN_DELAY_MS = 10_000;

/** How the WAN is made, for reports. */
export const WAN_METHOD =
  'a userspace relay (bench/faults/tun-relay.mjs, one Node process) in a namespace between the hosts: the kernel routes ' +
  'every packet between them through a TUN device, the relay reads it, drops it with the loss probability or holds ' +
  'it for the delay, and writes it back (one packet per syscall, sharing the cores with the modes)';

/** Policy-routing table of the relay namespace that sends what the hosts send into the TUN device. */
const RELAY_TABLE = '100';

export interface WanPort {
  /** The host's veth end inside the relay namespace. */
  readonly port: string;
  readonly hostIp: string;
  readonly hostMac: string;
}

/** The relay's impairment spec (bench/faults/impair.mjs) for these options. */
function wanRelaySpec(wan: WanOptions): string {
  return `delay=${wan.delayMs},loss=${wan.lossPct / 100}`;
}

export function describeWan(wan: WanOptions): string {
  return `delay ${wan.delayMs} ms and loss ${wan.lossPct} % on each direction`;
}

/**
 * Routes between the ports of the relay namespace through a TUN device that the relay process opens; returns the
 * running relay. Host addresses must be IPv4 (proxy ARP).
 */
export async function startWan(
  netns: string,
  tunName: string,
  mtu: number,
  ports: readonly [WanPort, WanPort],
  wan: WanOptions,
  pids: Set<number>,
): Promise<TrackedProcess> {
  if (!(wan.delayMs >= 0 && wan.delayMs <= MAX_WAN_DELAY_MS && wan.lossPct >= 0 && wan.lossPct <= 100)) {
    throw new VxtunError(
      'VXTUN_ERR_INVALID_ARGUMENT',
      `WAN delay must be 0..${MAX_WAN_DELAY_MS} ms and loss 0..100 %, got ${describeWan(wan)}`,
    );
  }
  const inRelay = (...argv: string[]): Promise<ExecResult> => run(['ip', 'netns', 'exec', netns, ...argv], {}, pids);
  await inRelay('ip', 'link', 'set', 'lo', 'up');
  await inRelay('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
  for (const { port, hostIp, hostMac } of ports) {
    // proxy_delay 0: answer a host's ARP request for the other host at once, not after up to 0.8 s.
    await inRelay(
      'sysctl',
      '-qw',
      `net.ipv4.conf.${port}.proxy_arp=1`,
      `net.ipv4.conf.${port}.rp_filter=0`,
      `net.ipv4.neigh.${port}.proxy_delay=0`,
    );
    await inRelay('ip', 'link', 'set', port, 'up');
    await inRelay('ip', 'neigh', 'replace', hostIp, 'lladdr', hostMac, 'dev', port, 'nud', 'permanent');
    await inRelay('ip', 'route', 'add', `${hostIp}/32`, 'dev', port);
    await inRelay('ip', 'rule', 'add', 'iif', port, 'lookup', RELAY_TABLE);
  }
  const relay = await startRelayProcess(netns, 'tun-relay.mjs', [tunName, String(mtu), ports[0].hostIp, wanRelaySpec(wan)], (pid) =>
    pids.delete(pid),
  );
  pids.add(relay.pid);
  await inRelay('sysctl', '-qw', `net.ipv4.conf.${tunName}.rp_filter=0`);
  // A 64 KB TSO packet becomes ~45 segments at once: room for ~20 of them (the default 500 drops bursts the relay
  // can carry), yet short enough (~15 ms at the relay's rate) not to add a flood's backlog to the next measurement.
  await inRelay('ip', 'link', 'set', tunName, 'txqueuelen', '1000');
  await inRelay('ip', 'route', 'add', 'default', 'dev', tunName, 'table', RELAY_TABLE);
  return relay;
}
