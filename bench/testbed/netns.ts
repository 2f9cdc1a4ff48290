import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VxtunError } from '../../dataplane/errors.js';
import { cleanUpNow, trackLeftovers, untrackLeftovers, type Leftovers } from './cleanup.js';
import { offloadSettings, parseEthtoolFeatures, type OffloadProfile } from './offloads.js';
import { run, spawnTracked, type ExecOptions, type ExecResult, type TrackedProcess } from './process.js';

/**
 * Two hosts (network namespaces `<prefix>a`, `<prefix>b`) joined by one veth pair: the underlay.
 * Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544) and fd00::/8, so nothing can leak out.
 */
export type HostName = 'a' | 'b';
export const HOST_NAMES: readonly HostName[] = ['a', 'b'];

export interface NetemOptions {
  /** One-way delay added on each direction, so the round trip grows by twice this. */
  readonly delayMs: number;
  /** Loss applied on each direction. */
  readonly lossPct: number;
}

export interface TestbedOptions {
  /** Names every namespace and link; default `vx` + 4 random hex digits. At most 13 characters, [a-z0-9]. */
  readonly prefix?: string;
  /** Underlay MTU of the veth pair (default 1500, a commodity NIC). */
  readonly mtu?: number;
  /** Also give the veths IPv6 addresses and make them the hosts' `underlayIp`. */
  readonly ipv6Underlay?: boolean;
  /** ethtool offload settings of both veths (default: the kernel's defaults). */
  readonly offloadProfile?: OffloadProfile;
  /** tc netem on both veths: a WAN between the hosts. Needs sch_netem in the kernel. */
  readonly netem?: NetemOptions;
}

export interface TestbedHost {
  readonly name: HostName;
  readonly netns: string;
  /** The underlay veth inside this namespace. */
  readonly dev: string;
  readonly underlayIPv4: string;
  readonly underlayIPv6: string | undefined;
  /** The address tunnels use as local/remote endpoint: IPv6 when ipv6Underlay, else IPv4. */
  readonly underlayIp: string;
}

export interface Testbed {
  readonly prefix: string;
  readonly mtu: number;
  readonly ipv6Underlay: boolean;
  readonly offloadProfile: OffloadProfile;
  readonly netem: NetemOptions | undefined;
  readonly hosts: Readonly<Record<HostName, TestbedHost>>;
  /** `ethtool -k` of each host's veth after the profile was applied (feature → on/off). */
  readonly offloadState: Readonly<Record<HostName, Readonly<Record<string, string>>>>;
  /** Runs argv inside the host's namespace to completion (bounded; see ExecOptions). */
  exec(host: HostName, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts argv inside the host's namespace; destroy() stops it if the caller has not. */
  spawn(host: HostName, argv: readonly string[]): TrackedProcess;
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

export async function createTestbed(opts: TestbedOptions = {}): Promise<Testbed> {
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
  const makeHost = (name: HostName, index: number): TestbedHost => {
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
  const hosts = { a: makeHost('a', 1), b: makeHost('b', 2) };
  const leftovers: Leftovers = { pids: new Set(), namespaces: [hosts.a.netns, hosts.b.netns], paths: new Set() };
  trackLeftovers(leftovers);

  const exec = (host: HostName, argv: readonly string[], execOpts?: ExecOptions): Promise<ExecResult> =>
    run(['ip', 'netns', 'exec', hosts[host].netns, ...argv], execOpts, leftovers.pids);
  const tracked = new Set<TrackedProcess>();
  // `ip netns exec` execs the command in place, so the PID we track is the program's own.
  const spawn = (host: HostName, argv: readonly string[]): TrackedProcess => {
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
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all([...tracked].map((proc) => proc.stop(2000)));
    cleanUpNow(leftovers);
    untrackLeftovers(leftovers);
  };

  try {
    await buildUnderlay(hosts, mtu, exec);
    for (const name of HOST_NAMES) {
      const settings = offloadSettings(offloadProfile);
      if (settings.length > 0) await exec(name, ['ethtool', '-K', hosts[name].dev, ...settings]);
      if (opts.netem !== undefined) await addNetem(exec, hosts[name], opts.netem);
    }
    const offloadState = {
      a: parseEthtoolFeatures((await exec('a', ['ethtool', '-k', hosts.a.dev])).stdout),
      b: parseEthtoolFeatures((await exec('b', ['ethtool', '-k', hosts.b.dev])).stdout),
    };
    return { prefix, mtu, ipv6Underlay, offloadProfile, netem: opts.netem, hosts, offloadState, exec, spawn, trackPath,
      scratchDir, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

type Exec = (host: HostName, argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

async function buildUnderlay(hosts: Record<HostName, TestbedHost>, mtu: number, exec: Exec): Promise<void> {
  for (const name of HOST_NAMES) {
    await run(['ip', 'netns', 'add', hosts[name].netns]).catch((err: unknown) => {
      throw new VxtunError(
        'VXTUN_ERR_PERMISSION',
        `could not create network namespace ${hosts[name].netns}: run as root (or with CAP_SYS_ADMIN and CAP_NET_ADMIN)`,
        { cause: err },
      );
    });
  }
  const { a, b } = hosts;
  await run(['ip', 'link', 'add', a.dev, 'netns', a.netns, 'mtu', String(mtu), 'type', 'veth',
    'peer', 'name', b.dev, 'netns', b.netns, 'mtu', String(mtu)]);
  for (const name of HOST_NAMES) {
    const host = hosts[name];
    await exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    await exec(name, ['ip', 'addr', 'add', `${host.underlayIPv4}/24`, 'dev', host.dev]);
    if (host.underlayIPv6 !== undefined) {
      // nodad: the address is usable at once instead of after duplicate address detection (~1-2 s).
      await exec(name, ['ip', '-6', 'addr', 'add', `${host.underlayIPv6}/64`, 'dev', host.dev, 'nodad']);
    }
    await exec(name, ['ip', 'link', 'set', host.dev, 'up']);
  }
}

async function addNetem(exec: Exec, host: TestbedHost, netem: NetemOptions): Promise<void> {
  const argv = ['tc', 'qdisc', 'replace', 'dev', host.dev, 'root', 'netem', 'delay', `${netem.delayMs}ms`,
    'loss', `${netem.lossPct}%`];
  const result = await exec(host.name, argv, { allowFail: true });
  if (result.code !== 0) {
    throw new VxtunError(
      'VXTUN_ERR_TESTBED',
      `tc netem failed on ${host.dev} (${result.stderr.trim()}): the kernel may lack sch_netem ` +
        '(CONFIG_NET_SCH_NETEM); run without --wan or on a kernel that has it',
    );
  }
}
