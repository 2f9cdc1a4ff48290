import { openvpn } from './peers/openvpn.js';
import { tinc } from './peers/tinc.js';
import { setUpPeerTunnel, type PeerTool } from './peers/userspace.js';
import { wireguardGo } from './peers/wireguard-go.js';
import { setupFlannelVxlan, type FlannelVxlan } from './testbed/kernel-vxlan.js';
import type { HostName, Testbed } from './testbed/netns.js';
import { overlayPlan } from './testbed/overlay.js';
import { startVxtun, type RunningVxtun } from './testbed/vxtun.js';

export type ModeName = 'underlay' | 'kernel-vxlan' | 'vxtun' | 'vxtun-split' | 'tinc' | 'openvpn' | 'wireguard-go';
export const MODE_NAMES: readonly ModeName[] = ['underlay', 'kernel-vxlan', 'vxtun', 'vxtun-split', 'tinc', 'openvpn', 'wireguard-go'];

/** Modes without a forwarder process: the kernel carries the traffic. */
export const KERNEL_MODES: readonly ModeName[] = ['underlay', 'kernel-vxlan'];

/** A mode's name as the table and chart show it: encrypted modes say so. */
export function modeLabel(mode: ModeName): string {
  return ENCRYPTED_MODES.includes(mode) ? `${mode} (encrypted)` : mode;
}

/** Modes whose tunnel encrypts what it carries: wireguard-go cannot be told not to; the others run without a cipher. */
export const ENCRYPTED_MODES: readonly ModeName[] = ['wireguard-go'];

/**
 * How CPU per GB is counted: `process` = the forwarder processes' own CPU (utime + stime, all threads);
 * `kernel` = the machine's sys + irq + softirq time, where in-kernel forwarding runs.
 */
export type CpuAccounting = 'process' | 'kernel';

/** One mode set up on the testbed: where to send traffic, and what to measure. */
export interface ModeSession {
  /** The address each host is reached at in this mode. */
  readonly address: Readonly<Record<HostName, string>>;
  readonly cpuAccounting: CpuAccounting;
  /** The forwarder processes (empty for in-kernel modes). */
  readonly forwarderPids: readonly number[];
  /** What ran, for the report: tool and version, and whether it encrypted. */
  readonly details?: string;
  /** Why the mode stopped working, if it did (a forwarder exited); undefined while healthy. */
  health(): string | undefined;
  teardown(): Promise<void>;
}

/** How vxtun runs in the benchmark: queue workers per host (default: one per core, as `vxtun static` does). */
export interface VxtunModeOptions {
  readonly workers?: number;
}

export async function setUpMode(mode: ModeName, tb: Testbed, vx: VxtunModeOptions = {}): Promise<ModeSession> {
  switch (mode) {
    case 'underlay':
      return {
        address: { a: tb.hosts.a.underlayIp, b: tb.hosts.b.underlayIp },
        cpuAccounting: 'kernel',
        forwarderPids: [],
        health: () => undefined,
        teardown: async () => {},
      };
    case 'kernel-vxlan':
      return setUpKernelVxlan(tb);
    case 'vxtun':
      return setUpVxtun(tb, vx);
    // vxtun as it runs on kernels before 6.17 (no UDP-tunnel GSO on TAP): super-packets split into UDP segments.
    case 'vxtun-split':
      return setUpVxtun(tb, { ...vx, tunnelGso: false });
    // The userspace tunnels vxtun is compared with: a daemon per host on its own TUN device.
    case 'tinc':
      return setUpPeerMode(tinc, tb);
    case 'openvpn':
      return setUpPeerMode(openvpn, tb);
    case 'wireguard-go':
      return setUpPeerMode(wireguardGo, tb);
  }
}

async function setUpPeerMode(tool: PeerTool, tb: Testbed): Promise<ModeSession> {
  const plan = overlayPlan(tb);
  const tunnel = await setUpPeerTunnel(tb, tool);
  return {
    address: { a: plan.a.overlayIp, b: plan.b.overlayIp },
    cpuAccounting: 'process',
    forwarderPids: tunnel.pids,
    details: tunnel.details,
    health: tunnel.health,
    teardown: tunnel.teardown,
  };
}

async function setUpKernelVxlan(tb: Testbed): Promise<ModeSession> {
  const plan = overlayPlan(tb);
  const devices: FlannelVxlan[] = [];
  const teardown = async (): Promise<void> => {
    await Promise.all(devices.map((d) => d.remove()));
  };
  try {
    devices.push(await setupFlannelVxlan(tb, 'a', plan.a));
    devices.push(await setupFlannelVxlan(tb, 'b', plan.b));
  } catch (err) {
    await teardown();
    throw err;
  }
  return {
    address: { a: plan.a.overlayIp, b: plan.b.overlayIp },
    cpuAccounting: 'kernel',
    forwarderPids: [],
    health: () => undefined,
    teardown,
  };
}

async function setUpVxtun(tb: Testbed, extraConfig: VxtunModeOptions & { tunnelGso?: boolean }): Promise<ModeSession> {
  const plan = overlayPlan(tb);
  const running: RunningVxtun[] = [];
  const exits = new Map<number, number | string>();
  const teardown = async (): Promise<void> => {
    // A forwarder that died is reported by health(); here it only has to be gone.
    await Promise.all(running.map((r) => r.stop().catch(() => undefined)));
  };
  try {
    for (const host of ['a', 'b'] as const) {
      const forwarder = await startVxtun(tb, host, { ...plan[host], extraConfig: { ...extraConfig } });
      void forwarder.process.exited.then((code) => exits.set(forwarder.pid, code));
      running.push(forwarder);
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  const health = (): string | undefined => {
    const dead = running.find((r) => exits.has(r.pid));
    if (dead === undefined) return undefined;
    return `vxtun (pid ${dead.pid}) exited with ${String(exits.get(dead.pid))}: ${dead.output().trim().slice(-500)}`;
  };
  // As the forwarder itself reported it: queue workers and where super-packets go.
  const started = running[0].logs('dataplane started')[0] ?? {};
  const route = String(started.tunnelGso ?? 'unknown');
  const details =
    `${String(started.workers ?? '?')} queue workers per host; TCP super-packets ` +
    (route.startsWith('off') ? `split into UDP segments (tunnel route ${route})` : `whole through the tunnel TAP ${route}`);
  return {
    address: { a: plan.a.overlayIp, b: plan.b.overlayIp },
    cpuAccounting: 'process',
    forwarderPids: running.map((r) => r.pid),
    health,
    teardown,
    details,
  };
}
