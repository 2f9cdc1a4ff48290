import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from '../testbed/netns.js';
import { overlayPlan } from '../testbed/overlay.js';
import { tail } from '../testbed/vxtun.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrackedProcess } from '../testbed/process.js';

/**
 * One host's end of a userspace tunnel that the benchmark compares vxtun with (tinc, OpenVPN, wireguard-go):
 * the same leases and overlay addresses as the VXLAN modes, on a TUN device the daemon opens.
 */
export interface PeerEnd {
  readonly host: HostName;
  /** The TUN device the daemon creates: `<testbed prefix><host><tool letter>`, unique per run. */
  readonly device: string;
  readonly underlayIp: string;
  /** This host's lease, e.g. 10.244.1.0/24. */
  readonly subnet: string;
  /** `<subnet>.0`, as Flannel puts on its device: the address traffic runs between. */
  readonly overlayIp: string;
  readonly mtu: number;
}

export type PeerEnds = Readonly<Record<HostName, PeerEnd>>;

/** What differs between the tools; setUpPeerTunnel does the rest the same way for each. */
export interface PeerTool {
  readonly name: string;
  /** One letter appended to the testbed prefix and host name to name the TUN device. */
  readonly deviceLetter: string;
  /** Overlay MTU on this testbed: the underlay MTU less the tool's own headers. */
  mtu(tb: Testbed): number;
  /** `tool x.y.z, what runs, whether it encrypts`, for the result's mode details. */
  details(tb: Testbed): Promise<string>;
  /** Writes keys and config for both hosts into dir (a fresh private directory). */
  prepare(ends: PeerEnds, dir: string): void;
  /** The daemon for this host, in the foreground, logging to stdout/stderr. */
  command(ends: PeerEnds, host: HostName, dir: string): string[];
  /** True once the daemon has opened its device and its UDP port (polled, bounded). */
  ready(tb: Testbed, end: PeerEnd, output: string): Promise<boolean>;
  /** After ready, before addresses and routes: anything the daemon needs told (wireguard-go's keys and peer). */
  configure?(tb: Testbed, ends: PeerEnds, host: HostName, dir: string): Promise<void>;
  /** Files outside the namespaces the daemon leaves behind if it is killed (wireguard-go's UAPI socket). */
  leftovers?(end: PeerEnd): readonly string[];
}

export interface RunningPeerTunnel {
  readonly pids: readonly number[];
  readonly details: string;
  /** Why the tunnel stopped working, if a daemon exited; undefined while healthy. */
  health(): string | undefined;
  /** Stops both daemons (SIGTERM, SIGKILL after 3 s), deletes their devices and removes their files. */
  teardown(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const REACH_ATTEMPTS = 20;

/** The two ends on this testbed: host a 10.244.1.0/24, host b 10.244.2.0/24, like every other mode. */
export function peerEnds(tb: Testbed, tool: Pick<PeerTool, 'deviceLetter' | 'mtu'>): PeerEnds {
  const plan = overlayPlan(tb);
  const end = (host: HostName): PeerEnd => ({
    host,
    device: `${tb.prefix}${host}${tool.deviceLetter}`,
    underlayIp: tb.hosts[host].underlayIp,
    subnet: plan[host].subnet,
    overlayIp: plan[host].overlayIp,
    mtu: tool.mtu(tb),
  });
  return { a: end('a'), b: end('b') };
}

export function otherHost(host: HostName): HostName {
  return host === 'a' ? 'b' : 'a';
}

/**
 * Starts the tool on host b, then on host a (a initiates where the tool has a direction), gives each device
 * the host's `<subnet>.0/32`, the MTU and a route to the other lease, and waits (bounded) until a ping crosses.
 * On any failure everything started so far is undone before the error is thrown.
 */
export async function setUpPeerTunnel(tb: Testbed, tool: PeerTool): Promise<RunningPeerTunnel> {
  const ends = peerEnds(tb, tool);
  const scratch = tb.scratchDir(tool.name);
  const untrack = (['a', 'b'] as const).flatMap((h) => (tool.leftovers?.(ends[h]) ?? []).map((p) => tb.trackPath(p)));
  const daemons: { host: HostName; proc: TrackedProcess; exit?: number | string }[] = [];
  const teardown = async (): Promise<void> => {
    await Promise.all(daemons.map((d) => d.proc.stop(3000)));
    for (const host of ['a', 'b'] as const) {
      await tb.exec(host, ['ip', 'link', 'del', ends[host].device], { allowFail: true });
    }
    for (const remove of untrack) remove();
    scratch.remove();
  };
  try {
    const details = await tool.details(tb);
    tool.prepare(ends, scratch.path);
    for (const host of ['b', 'a'] as const) {
      const daemon: (typeof daemons)[number] = { host, proc: tb.spawn(host, tool.command(ends, host, scratch.path)) };
      void daemon.proc.exited.then((code) => (daemon.exit = code));
      daemons.push(daemon);
      await waitReady(tb, tool, ends[host], daemon);
    }
    for (const host of ['b', 'a'] as const) {
      await tool.configure?.(tb, ends, host, scratch.path);
      await addressDevice(tb, ends[host], ends[otherHost(host)]);
    }
    await waitReachable(tb, tool.name, ends.b.overlayIp, () => describeExit(tool.name, daemons));
    return {
      pids: daemons.map((d) => d.proc.pid),
      details,
      health: () => describeExit(tool.name, daemons),
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function waitReady(
  tb: Testbed,
  tool: PeerTool,
  end: PeerEnd,
  daemon: { proc: TrackedProcess; exit?: number | string },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (daemon.exit !== undefined) {
      throw new VxtunError(
        'VXTUN_ERR_BENCH',
        `${tool.name} on host ${end.host} exited (${daemon.exit}) before it ` + `was ready: ${tail(daemon.proc.output())}`,
      );
    }
    if (await tool.ready(tb, end, daemon.proc.output())) return;
    await sleep(100);
  }
  throw new VxtunError(
    'VXTUN_ERR_BENCH',
    `${tool.name} on host ${end.host} did not open ${end.device} within ` + `${READY_TIMEOUT_MS} ms: ${tail(daemon.proc.output())}`,
  );
}

/** `<subnet>.0/32` on the device, the MTU, up, and the other lease routed through it from that address. */
async function addressDevice(tb: Testbed, self: PeerEnd, peer: PeerEnd): Promise<void> {
  const ip = (...argv: string[]): Promise<unknown> => tb.exec(self.host, ['ip', ...argv]);
  await ip('addr', 'add', `${self.overlayIp}/32`, 'dev', self.device);
  await ip('link', 'set', self.device, 'mtu', String(self.mtu), 'up');
  await ip('route', 'replace', peer.subnet, 'dev', self.device, 'src', self.overlayIp);
}

async function waitReachable(tb: Testbed, name: string, address: string, exited: () => string | undefined): Promise<void> {
  let last = '';
  for (let i = 0; i < REACH_ATTEMPTS; i++) {
    const ping = await tb.exec('a', ['ping', '-c', '1', '-W', '1', address], { allowFail: true });
    if (ping.code === 0) return;
    last = ping.stdout.trim().split('\n').slice(-2).join(' ');
    const dead = exited();
    if (dead !== undefined) throw new VxtunError('VXTUN_ERR_BENCH', dead);
  }
  throw new VxtunError(
    'VXTUN_ERR_BENCH',
    `${name}: host a cannot reach ${address} through the tunnel after ` + `${REACH_ATTEMPTS} pings (${last})`,
  );
}

function describeExit(
  name: string,
  daemons: readonly { host: HostName; proc: TrackedProcess; exit?: number | string }[],
): string | undefined {
  const dead = daemons.find((d) => d.exit !== undefined);
  if (dead === undefined) return undefined;
  return `${name} on host ${dead.host} (pid ${dead.proc.pid}) exited with ${String(dead.exit)}: ${tail(dead.proc.output(), 800)}`;
}

/** Whether the device exists in the host's namespace yet. */
export async function deviceExists(tb: Testbed, end: PeerEnd): Promise<boolean> {
  return (await tb.exec(end.host, ['ip', 'link', 'show', 'dev', end.device], { allowFail: true })).code === 0;
}

/** The first line of `argv` output (a version banner), or a note that the tool did not answer. */
export async function firstLine(tb: Testbed, argv: readonly string[]): Promise<string> {
  const out = await tb.exec('a', argv, { allowFail: true, timeoutMs: 5000 });
  return `${out.stdout}${out.stderr}`.trim().split('\n')[0] || `${argv[0]} (version unknown)`;
}

/** Writes relative path → content under dir, readable by root only (the files hold private keys). */
export function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content, { mode: 0o600 });
  }
}
