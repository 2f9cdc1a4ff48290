import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VxtunError } from '../../dataplane/errors.js';
import { cleanUpNow, trackLeftovers, untrackLeftovers, type Leftovers } from './cleanup.js';
import { offloadSettings, parseEthtoolFeatures, type OffloadProfile } from './offloads.js';
import { run, spawnTracked, type ExecOptions, type ExecResult, type TrackedProcess } from './process.js';
import { stopRelayProcess } from './relay-process.js';
import { startWan, type WanOptions } from './wan.js';

/**
 * Two hosts (network namespaces `<prefix>a`, `<prefix>b`) joined by one veth pair: the underlay. With `hosts: 3`
 * a third host `<prefix>c`, and the underlay is a bridge in a fourth namespace `<prefix>u`, one veth from each host.
 * With `wan`, the two hosts' veths end in a namespace `<prefix>w` whose relay delays and drops packets (wan.ts).
 * Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544) and fd00::/8, so nothing can leak out.
 */
export type HostName = 'a' | 'b';
/** A host of any testbed: the two of every testbed, and the third of a three-host one. */
export type AnyHostName = HostName | 'c';
export const HOST_NAMES: readonly HostName[] = ['a', 'b'];

export interface TestbedOptions {
  /** Names every namespace and link; default `vx` + 4 random hex digits. At most 13 characters, [a-z0-9]. */
  readonly prefix?: string;
  /** Underlay MTU of the veth pair (default 1500, a commodity NIC). */
  readonly mtu?: number;
  /** Also give the veths IPv6 addresses and make them the hosts' `underlayIp`. */
  readonly ipv6Underlay?: boolean;
  /** ethtool offload settings of both veths (default: the kernel's defaults). */
  readonly offloadProfile?: OffloadProfile;
  /** A WAN between the two hosts: every packet crosses a userspace relay that delays and drops it (wan.ts). IPv4 only. */
  readonly wan?: WanOptions;
  /** 3: hosts a, b and c on one bridged underlay (default 2: a and b on one veth pair). */
  readonly hosts?: 2 | 3;
}

export interface TestbedHost {
  readonly name: AnyHostName;
  readonly netns: string;
  /** The underlay veth inside this namespace. */
  readonly dev: string;
  readonly underlayIPv4: string;
  readonly underlayIPv6: string | undefined;
  /** The address tunnels use as local/remote endpoint: IPv6 when ipv6Underlay, else IPv4. */
  readonly underlayIp: string;
}

export interface Testbed<H extends AnyHostName = HostName> {
  readonly prefix: string;
  readonly mtu: number;
  readonly ipv6Underlay: boolean;
  readonly offloadProfile: OffloadProfile;
  readonly wan: WanOptions | undefined;
  /** The WAN's relay process while it runs (undefined without a WAN). */
  readonly wanRelay: TrackedProcess | undefined;
  /** Stops the WAN's relay (once the measurements are done) and returns its counts; undefined without a WAN. */
  stopWan(): Promise<Record<string, number> | undefined>;
  readonly hosts: Readonly<Record<H, TestbedHost>>;
  /** `ethtool -k` of each host's veth after the profile was applied (feature → on/off). */
  readonly offloadState: Readonly<Record<H, Readonly<Record<string, string>>>>;
  /** Runs argv inside the host's namespace to completion (bounded; see ExecOptions). */
  exec(host: H, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts argv inside the host's namespace; destroy() stops it if the caller has not. */
  spawn(host: H, argv: readonly string[]): TrackedProcess;
  /**
   * A path outside the namespaces (a file a daemon creates, such as a control socket) that destroy() and an
   * interrupted run remove if the caller has not; the returned function removes it now and stops tracking it.
   */
  trackPath(path: string): () => void;
  /** A new private directory under the system's temp directory, tracked like trackPath. */
  scratchDir(label: string): { readonly path: string; remove(): void };
  /** Stops every process this testbed started and deletes its namespaces (which removes the veth pair). */
  destroy(): Promise<void>;
}

export function randomPrefix(): string {
  return `vx${randomBytes(2).toString('hex')}`;
}

export function createTestbed(opts?: TestbedOptions & { readonly hosts?: 2 }): Promise<Testbed>;
export function createTestbed(opts: TestbedOptions & { readonly hosts: 3 }): Promise<Testbed<AnyHostName>>;
export async function createTestbed(opts: TestbedOptions = {}): Promise<Testbed<AnyHostName>> {
  const prefix = opts.prefix ?? randomPrefix();
  if (!/^[a-z][a-z0-9]{0,12}$/.test(prefix)) {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `testbed prefix "${prefix}" must be 1-13 of [a-z0-9]`);
  }
  const mtu = opts.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65000) {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `underlay MTU ${mtu} must be an integer in 1280..65000`);
  }
  const offloadProfile = opts.offloadProfile ?? 'default';
  const ipv6Underlay = opts.ipv6Underlay ?? false;
  // The third octet varies per testbed so two testbeds' captures are easy to tell apart.
  const octet = randomBytes(1)[0];
  const makeHost = (name: AnyHostName, index: number): TestbedHost => {
    const underlayIPv4 = `198.18.${octet}.${index}`;
    const underlayIPv6 = ipv6Underlay ? `fd00:c612:${octet.toString(16)}::${index}` : undefined;
    return {
      name,
      netns: `${prefix}${name}`,
      dev: `${prefix}${name}0`,
      underlayIPv4,
      underlayIPv6,
      underlayIp: underlayIPv6 ?? underlayIPv4,
    };
  };
  const names: readonly AnyHostName[] = opts.hosts === 3 ? ['a', 'b', 'c'] : HOST_NAMES;
  if (opts.wan !== undefined && (names.length !== 2 || ipv6Underlay)) {
    throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'a WAN is available between two hosts on an IPv4 underlay only');
  }
  const hosts = Object.fromEntries(names.map((name, i) => [name, makeHost(name, i + 1)])) as Record<AnyHostName, TestbedHost>;
  const switchNetns = names.length > 2 ? `${prefix}u` : opts.wan !== undefined ? `${prefix}w` : undefined;
  const leftovers: Leftovers = {
    pids: new Set(),
    namespaces: [...names.map((n) => hosts[n].netns), ...(switchNetns ? [switchNetns] : [])],
    paths: new Set(),
  };
  trackLeftovers(leftovers);

  const exec = (host: AnyHostName, argv: readonly string[], execOpts?: ExecOptions): Promise<ExecResult> =>
    run(['ip', 'netns', 'exec', hosts[host].netns, ...argv], execOpts, leftovers.pids);
  const tracked = new Set<TrackedProcess>();
  // `ip netns exec` execs the command in place, so the PID we track is the program's own.
  const spawn = (host: AnyHostName, argv: readonly string[]): TrackedProcess => {
    const proc = spawnTracked(['ip', 'netns', 'exec', hosts[host].netns, ...argv], (pid) => leftovers.pids.delete(pid));
    leftovers.pids.add(proc.pid);
    tracked.add(proc);
    return proc;
  };
  const trackPath = (path: string): (() => void) => {
    leftovers.paths.add(path);
    return () => {
      rmSync(path, { recursive: true, force: true });
      leftovers.paths.delete(path);
    };
  };
  const scratchDir = (label: string): { path: string; remove(): void } => {
    const path = mkdtempSync(join(tmpdir(), `vxtun-${prefix}-${label}-`));
    return { path, remove: trackPath(path) };
  };
  let wanRelay: TrackedProcess | undefined;
  const stopWan = async (): Promise<Record<string, number> | undefined> => {
    const relay = wanRelay;
    if (relay === undefined || switchNetns === undefined) return undefined;
    // Packets the kernel dropped because the relay did not read them fast enough: its TUN device's transmit drops.
    const link = await run(['ip', 'netns', 'exec', switchNetns, 'ip', '-j', '-s', 'link', 'show', 'dev', `${prefix}wt`], {
      allowFail: true,
    });
    const tunQueueFull = link.code === 0 ? Number(JSON.parse(link.stdout)[0]?.stats64?.tx?.dropped ?? Number.NaN) : Number.NaN;
    wanRelay = undefined;
    return { ...(await stopRelayProcess(relay)), ...(Number.isFinite(tunQueueFull) ? { tunQueueFull } : {}) };
  };
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all([...tracked].map((proc) => proc.stop(2000)));
    await wanRelay?.stop(2000);
    cleanUpNow(leftovers);
    untrackLeftovers(leftovers);
  };

  try {
    await buildUnderlay(
      names.map((n) => hosts[n]),
      mtu,
      exec,
      switchNetns,
      opts.wan === undefined,
    );
    for (const name of names) {
      const settings = offloadSettings(offloadProfile);
      if (settings.length > 0) await exec(name, ['ethtool', '-K', hosts[name].dev, ...settings]);
    }
    if (opts.wan !== undefined && switchNetns !== undefined) {
      const port = async (host: TestbedHost) => ({
        port: switchPort(host),
        hostIp: host.underlayIPv4,
        hostMac: (await exec(host.name, ['cat', `/sys/class/net/${host.dev}/address`])).stdout.trim(),
      });
      wanRelay = await startWan(switchNetns, `${prefix}wt`, mtu, [await port(hosts.a), await port(hosts.b)], opts.wan, leftovers.pids);
    }
    const offloadState = {} as Record<AnyHostName, Record<string, string>>;
    for (const name of names) offloadState[name] = parseEthtoolFeatures((await exec(name, ['ethtool', '-k', hosts[name].dev])).stdout);
    return {
      prefix,
      mtu,
      ipv6Underlay,
      offloadProfile,
      wan: opts.wan,
      get wanRelay() {
        return wanRelay;
      },
      stopWan,
      hosts,
      offloadState,
      exec,
      spawn,
      trackPath,
      scratchDir,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

type Exec = (host: AnyHostName, argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

/** The peer of a host's veth in the switch (or relay) namespace. */
function switchPort(host: TestbedHost): string {
  return `${host.dev.slice(0, -1)}1`;
}

/**
 * Two hosts: one veth pair. More, or a WAN: each host's veth ends in the switch namespace, as a port of one bridge
 * (`bridged`) or, for the WAN, a port the relay routes from (configured by startWan).
 */
async function buildUnderlay(
  hosts: readonly TestbedHost[],
  mtu: number,
  exec: Exec,
  switchNetns: string | undefined,
  bridged: boolean,
): Promise<void> {
  for (const netns of [...hosts.map((h) => h.netns), ...(switchNetns ? [switchNetns] : [])]) {
    await run(['ip', 'netns', 'add', netns]).catch((err: unknown) => {
      throw new VxtunError(
        'VXTUN_ERR_PERMISSION',
        `could not create network namespace ${netns}: run as root (or with CAP_SYS_ADMIN and CAP_NET_ADMIN)`,
        { cause: err },
      );
    });
  }
  if (switchNetns === undefined) {
    const [a, b] = hosts;
    await run([
      'ip',
      'link',
      'add',
      a.dev,
      'netns',
      a.netns,
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      b.dev,
      'netns',
      b.netns,
      'mtu',
      String(mtu),
    ]);
  } else {
    const bridge = `${hosts[0].dev.slice(0, -2)}br`;
    const sw = (...argv: string[]) => run(['ip', 'netns', 'exec', switchNetns, 'ip', ...argv]);
    if (bridged) {
      await sw('link', 'add', bridge, 'mtu', String(mtu), 'type', 'bridge');
      await sw('link', 'set', bridge, 'up');
    }
    for (const host of hosts) {
      const port = switchPort(host);
      await run([
        'ip',
        'link',
        'add',
        host.dev,
        'netns',
        host.netns,
        'mtu',
        String(mtu),
        'type',
        'veth',
        'peer',
        'name',
        port,
        'netns',
        switchNetns,
        'mtu',
        String(mtu),
      ]);
      if (bridged) await sw('link', 'set', port, 'master', bridge, 'up');
    }
  }
  for (const host of hosts) {
    const name = host.name;
    await exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    await exec(name, ['ip', 'addr', 'add', `${host.underlayIPv4}/24`, 'dev', host.dev]);
    if (host.underlayIPv6 !== undefined) {
      // nodad: the address is usable at once instead of after duplicate address detection (~1-2 s).
      await exec(name, ['ip', '-6', 'addr', 'add', `${host.underlayIPv6}/64`, 'dev', host.dev, 'nodad']);
    }
    await exec(name, ['ip', 'link', 'set', host.dev, 'up']);
  }
}
