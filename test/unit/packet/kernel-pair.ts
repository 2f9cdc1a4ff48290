/**
 * Two network namespaces, A and B, joined by a veth, each with a Linux VXLAN device configured the way Flannel
 * configures flannel.1 (VNI 1, port 8472, nolearning, <subnet>.0/32, onlink route, FDB entry for the peer).
 * B has a permanent neighbour entry for A; A has none for B, so A's kernel ARPs through the tunnel (the
 * all-zero FDB entry carries the broadcast). IPv6 is off so autoconfiguration does not add traffic.
 * Every name carries a random prefix; destroy() removes exactly what create() made.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcap } from './pcap.js';

export const canRunNetns =
  process.getuid?.() === 0 &&
  ['/usr/sbin/ip', '/usr/bin/ip'].some(existsSync) &&
  ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].some(existsSync);

export const MAC_A = '0e:2a:00:00:00:0a';
export const MAC_B = '0e:2a:00:00:00:0b';
export const UNDERLAY_A = '192.168.77.1';
export const UNDERLAY_B = '192.168.77.2';
export const GW_A = '10.5.1.0';
export const GW_B = '10.5.2.0';

/** UDP payload (VXLAN header onwards) and outer ports of a captured Ethernet/IPv4/UDP frame. */
export function vxlanOf(frame: Uint8Array): { payload: Uint8Array; srcPort: number; dstPort: number } {
  const udp = 14 + (frame[14] & 15) * 4;
  return { payload: frame.subarray(udp + 8), srcPort: (frame[udp] << 8) | frame[udp + 1], dstPort: (frame[udp + 2] << 8) | frame[udp + 3] };
}

export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export class KernelPair {
  readonly prefix = `vx${randomBytes(2).toString('hex')}`;
  readonly nsA = `${this.prefix}a`;
  readonly nsB = `${this.prefix}b`;
  readonly vethB = `${this.prefix}vb`;
  readonly vxlanA = `${this.prefix}fa`;
  readonly vxlanB = `${this.prefix}fb`;

  create(): void {
    for (const ns of [this.nsA, this.nsB]) {
      sh('ip', 'netns', 'add', ns);
      sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    const p = this.prefix;
    sh('ip', 'link', 'add', `${p}va`, 'type', 'veth', 'peer', 'name', `${p}vb`);
    this.side('a', UNDERLAY_A, UNDERLAY_B, MAC_A, MAC_B, GW_A, GW_B);
    this.side('b', UNDERLAY_B, UNDERLAY_A, MAC_B, MAC_A, GW_B, GW_A);
    sh('ip', '-n', this.nsB, 'neigh', 'add', GW_A, 'lladdr', MAC_A, 'dev', `${p}fb`, 'nud', 'permanent');
    sh('bridge', '-n', this.nsA, 'fdb', 'append', '00:00:00:00:00:00', 'dev', `${p}fa`, 'dst', UNDERLAY_B);
  }

  /** create(), then `prepare`; everything is removed again when either fails. */
  async start(prepare: () => void | Promise<void> = () => undefined): Promise<void> {
    try {
      this.create();
      await prepare();
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /**
   * Captures VXLAN datagrams on B's veth while `action` runs: until `count` frames arrived, or for settleMs
   * after the action when count is 0. Returns the Ethernet frames as captured.
   */
  async capture(action: () => void, count: number, settleMs = 1000): Promise<Uint8Array[]> {
    const file = join(tmpdir(), `${this.prefix}-${randomBytes(3).toString('hex')}.pcap`);
    const args = ['netns', 'exec', this.nsB, 'tcpdump', '-i', this.vethB, '-U', '-n', '-w', file];
    if (count > 0) args.push('-c', String(count));
    const dump = spawn('ip', [...args, 'udp', 'port', '8472'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => dump.on('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('tcpdump did not start within 5 s')), 5000);
        dump.stderr.on('data', (d: Buffer) => {
          if (d.toString().includes('listening on')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      action();
      await Promise.race([exited, new Promise((r) => setTimeout(r, count > 0 ? 5000 : settleMs))]);
      if (dump.exitCode === null && dump.pid !== undefined) {
        process.kill(dump.pid, 'SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      return readPcap(readFileSync(file)).frames.map((f) => f.data);
    } finally {
      if (dump.exitCode === null && dump.pid !== undefined) process.kill(dump.pid, 'SIGKILL');
      rmSync(file, { force: true });
    }
  }

  destroy(): void {
    for (const ns of [this.nsA, this.nsB]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        /* never created */
      }
    }
  }

  private side(n: 'a' | 'b', me: string, peer: string, mac: string, peerMac: string, subnet: string, peerSubnet: string): void {
    const ns = `${this.prefix}${n}`;
    const veth = `${this.prefix}v${n}`;
    const dev = `${this.prefix}f${n}`;
    sh('ip', 'link', 'set', veth, 'netns', ns);
    sh('ip', '-n', ns, 'addr', 'add', `${me}/24`, 'dev', veth);
    sh('ip', '-n', ns, 'link', 'set', veth, 'up');
    sh(
      'ip',
      '-n',
      ns,
      'link',
      'add',
      dev,
      'address',
      mac,
      'type',
      'vxlan',
      'id',
      '1',
      'dstport',
      '8472',
      'local',
      me,
      'dev',
      veth,
      'nolearning',
    );
    sh('ip', '-n', ns, 'addr', 'add', `${subnet}/32`, 'dev', dev);
    sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    sh('bridge', '-n', ns, 'fdb', 'add', peerMac, 'dev', dev, 'dst', peer, 'self', 'permanent');
    sh('ip', '-n', ns, 'route', 'add', `${peerSubnet}/24`, 'via', peerSubnet, 'dev', dev, 'onlink');
  }
}
