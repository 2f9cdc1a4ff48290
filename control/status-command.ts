/** `vxtun status`: what a running agent or static host reports on its control socket, for people or (--json) scripts. */
import { Command } from 'commander';
import type { PeerStats } from '../dataplane/dataplane.js';
import { addEnvVars, intInRange } from './cli-options.js';
import { readStatus, statusSocketPath, type HostStatus } from './status.js';

interface StatusFlags {
  tunName: string;
  socket?: string;
  json?: boolean;
  watch?: number;
}

export function registerStatusCommand(program: Command): void {
  addEnvVars(program.command('status'), () => 'VXTUN_')
    .description(
      'Show a running vxtun agent or static host: lease, registry, TUN, workers, each peer with its traffic, drops by reason (reads /run/vxtun/<tun>.sock; needs root)',
    )
    .option('--tun-name <name>', 'TUN device of the host to ask', 'vxtun0')
    .option('--socket <path>', 'control socket to read instead of the one of --tun-name')
    .option('--json', 'print the status as one JSON object (for scripts)')
    .option('--watch <seconds>', 'print the status again every N seconds until interrupted', intInRange(1, 3600))
    .addHelpText(
      'after',
      `
Examples:
  sudo vxtun status
  sudo vxtun status --tun-name flannel0 --json | jq '.peers[] | {subnet, rxBytes, lastRxAt}'
  sudo vxtun status --watch 2`,
    )
    .action(async (f: StatusFlags) => {
      const path = f.socket ?? statusSocketPath(f.tunName);
      const show = async () => {
        const s = await readStatus(path);
        return f.json ? `${JSON.stringify(s)}\n` : formatStatus(s, Date.now());
      };
      if (f.watch === undefined) {
        process.stdout.write(await show());
        return;
      }
      const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        while (!stop) {
          process.stdout.write(`${clear}${await show()}${f.json ? '' : '\n'}`);
          for (let waited = 0; waited < f.watch * 1000 && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
}

/** The human view, laid out like `wg show`: the host, then one block per peer. */
function formatStatus(s: HostStatus, now: number): string {
  const lines: string[] = [];
  const off = s.tun?.offloads;
  lines.push(
    `${s.kind} ${s.tun?.name ?? '(TUN not up yet)'}: public ip ${s.publicIp ?? '(not chosen yet)'}, vtep mac ${s.vtepMac ?? '(not yet)'}, pid ${s.pid}, up ${ago(Date.parse(s.startedAt), now)}`,
  );
  lines.push(`  subnet: ${[s.subnet, s.ipv6Subnet].filter(Boolean).join(', ') || '(none)'}`);
  if (s.agent) {
    const lease = s.agent.lease;
    lines.push(
      `  lease: ${lease ? `${lease.subnet ?? lease.ipv6Subnet}, expires ${lease.expiresAt} (in ${duration(Date.parse(lease.expiresAt) - now)})` : `none yet (${s.agent.waitingFor ? `waiting for ${s.agent.waitingFor}` : s.agent.phase})`}`,
    );
    const r = s.agent.registry;
    lines.push(
      `  registry: ${r.connected ? 'connected' : `unreachable${r.unreachableSince ? ` since ${r.unreachableSince} (${ago(Date.parse(r.unreachableSince), now)})` : ''}${r.lastError ? `: ${r.lastError}` : ''}`}; resyncs ${s.agent.resyncs}`,
    );
  }
  if (!s.tun || !off) return `${lines.join('\n')}\n  tun: not up yet\n`;
  lines.push(
    `  tun: mtu ${s.tun.mtu}, ${s.tun.workers} workers, ${s.tun.workerRestarts} restarts; offloads: ${off.vnetHdr ? 'tso+csum' : 'none'} on the TUN, udp gso ${onOff(off.gso)}, udp gro ${onOff(off.gro)}`,
  );
  lines.push(
    `  super-packets: ${off.tunnelGso ? `whole through ${off.tunnelGso}` : `as udp segments (${off.tunnelGsoOff ?? 'tunnel gso off'})`}`,
  );
  lines.push(
    `  transfer: ${bytes(s.counters.rxBytes)} received (${s.counters.rxPackets} packets), ${bytes(s.counters.txBytes)} sent (${s.counters.txPackets} packets)`,
  );
  const drops = Object.entries(s.drops).map(([k, v]) => `${k} ${v}`);
  const kernel = Object.entries(s.kernelDrops)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`);
  lines.push(`  drops: ${drops.length ? drops.join(', ') : 'none'}${kernel.length ? `; by the kernel: ${kernel.join(', ')}` : ''}`);
  for (const p of s.peers) lines.push('', ...peerLines(p, now));
  if (s.peers.length === 0) lines.push('', 'no peers');
  return `${lines.join('\n')}\n`;
}

function peerLines(p: PeerStats, now: number): string[] {
  return [
    `peer ${[p.subnet, p.ipv6Subnet].filter(Boolean).join(', ')}`,
    `  public ip: ${p.publicIp}`,
    `  vtep mac: ${p.vtepMac}${p.ipv6VtepMac && p.ipv6VtepMac !== p.vtepMac ? ` (IPv6: ${p.ipv6VtepMac})` : ''}`,
    `  transfer: ${bytes(p.rxBytes)} received (${p.rxPackets} packets), ${bytes(p.txBytes)} sent (${p.txPackets} packets)`,
    `  latest packet: ${p.lastRxAt ? `${ago(Date.parse(p.lastRxAt), now)} ago` : 'none yet'}`,
  ];
}

const onOff = (b: boolean) => (b ? 'on' : 'off');

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(2)} ${units[u]}`;
}

function ago(then: number, now: number): string {
  return duration(now - then);
}

/** `3 s`, `4 min 12 s`, `23 h 59 min`, `2 d 1 h`. */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
