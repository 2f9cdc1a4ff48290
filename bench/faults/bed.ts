/**
 * The fault suite's underlay: the two testbed hosts also joined through a third namespace `<prefix>r` in which
 * relay.mjs forwards VXLAN datagrams between them, impaired. Each host reaches the other through the relay
 * by the relay's address on its own side (`peerIp`), so tunnels configured with those addresses cross it; the
 * direct veth between the hosts stays, unused by them.
 *
 *   host a  <prefix>ra 198.19.1.1 ── 198.19.1.2 ┐ relay ┌ 198.19.2.2 ── 198.19.2.1 <prefix>rb  host b
 */
import { execFileSync } from 'node:child_process';
import { createTestbed, type HostName, type Testbed } from '../testbed/index.js';
import { run, type ExecResult, type TrackedProcess } from '../testbed/process.js';
import { startRelayProcess, stopRelayProcess } from '../testbed/relay-process.js';

export interface RelaySide {
  /** The host's own address on its link to the relay (tunnel local address, vxtun publicIp). */
  readonly ip: string;
  readonly dev: string;
  /** Where this host sends to reach the other host: the relay's address on this host's side. */
  readonly peerIp: string;
}

export interface RelayBed {
  readonly tb: Testbed;
  readonly netns: string;
  readonly side: Readonly<Record<HostName, RelaySide>>;
  /** Starts the relay for these VXLAN ports with an impairment spec (see relay.mjs); one at a time. */
  startRelay(ports: readonly number[], impairments: string): Promise<void>;
  /** Runs argv inside the relay's namespace to completion (bounded). */
  inRelay(...argv: string[]): Promise<ExecResult>;
  /** Stops the relay; returns what it did ({relayed, loss, corruptInner, ...}). */
  stopRelay(): Promise<Record<string, number>>;
  destroy(): Promise<void>;
}

export async function createRelayBed(): Promise<RelayBed> {
  const tb = await createTestbed();
  const netns = `${tb.prefix}r`;
  const side: Record<HostName, RelaySide> = {
    a: { ip: '198.19.1.1', dev: `${tb.prefix}ra`, peerIp: '198.19.1.2' },
    b: { ip: '198.19.2.1', dev: `${tb.prefix}rb`, peerIp: '198.19.2.2' },
  };
  let relay: TrackedProcess | undefined;
  const destroy = async (): Promise<void> => {
    await relay?.stop(2000);
    try {
      execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // never created, or already gone
    }
    await tb.destroy();
  };
  const inRelay = (...argv: string[]) => run(['ip', 'netns', 'exec', netns, ...argv], { timeoutMs: 600_000 });
  try {
    await run(['ip', 'netns', 'add', netns]);
    await inRelay('ip', 'link', 'set', 'lo', 'up');
    for (const host of ['a', 'b'] as const) {
      const s = side[host];
      const relayDev = `${tb.prefix}r${host}r`;
      await run([
        'ip',
        'link',
        'add',
        s.dev,
        'netns',
        tb.hosts[host].netns,
        'mtu',
        String(tb.mtu),
        'type',
        'veth',
        'peer',
        'name',
        relayDev,
        'netns',
        netns,
        'mtu',
        String(tb.mtu),
      ]);
      await tb.exec(host, ['ip', 'addr', 'add', `${s.ip}/24`, 'dev', s.dev]);
      await tb.exec(host, ['ip', 'link', 'set', s.dev, 'up']);
      // As a NIC without offloads: over a veth a kernel VXLAN device would hand on one 64 KB tunnel GSO packet
      // (which the relay's plain socket receives whole) whose inner checksums hold only the pseudo-header sum
      // (which the receiving kernel rejects once a relay has put the bytes on a "wire"). With checksum offload
      // off, the sending kernel segments and finishes every checksum itself.
      await tb.exec(host, ['ethtool', '-K', s.dev, 'tx', 'off']);
      await inRelay('ip', 'addr', 'add', `${s.peerIp}/24`, 'dev', relayDev);
      await inRelay('ip', 'link', 'set', relayDev, 'up');
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    tb,
    netns,
    side,
    destroy,
    inRelay,
    async startRelay(ports, impairments) {
      if (relay !== undefined) throw new Error('the relay is already running');
      relay = await startRelayProcess(netns, 'relay.mjs', [
        side.a.peerIp,
        side.a.ip,
        side.b.peerIp,
        side.b.ip,
        ports.join(','),
        impairments,
      ]);
    },
    async stopRelay() {
      const proc = relay;
      if (proc === undefined) throw new Error('the relay is not running');
      relay = undefined;
      return stopRelayProcess(proc);
    },
  };
}

/** The kernel's SNMP counters of a host's namespace (/proc/net/snmp and netstat), as {"Udp.RcvbufErrors": n, …}. */
export async function kernelSnmp(tb: Testbed, host: HostName): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const file of ['/proc/net/snmp', '/proc/net/netstat', '/proc/net/snmp6']) {
    const text = (await tb.exec(host, ['cat', file])).stdout;
    if (file.endsWith('6')) {
      for (const line of text.split('\n')) {
        const [k, v] = line.trim().split(/\s+/);
        if (k && v) out[k] = Number(v);
      }
      continue;
    }
    const lines = text.trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      const group = names[0].replace(/:$/, '');
      for (let j = 1; j < names.length; j++) out[`${group}.${names[j]}`] = Number(values[j]);
    }
  }
  return out;
}
