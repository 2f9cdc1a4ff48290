/**
 * Two network namespaces, A and B, joined by a veth, each with a Linux VXLAN device configured the way Flannel
 * configures flannel.1 (VNI 1, port 8472, nolearning, <subnet>.0/32, onlink route, FDB entry for the peer).
 * B has a permanent neighbour entry for A; A has none for B, so A's kernel ARPs through the tunnel (the
 * all-zero FDB entry carries the broadcast). IPv6 is off so autoconfiguration does not add traffic.
 * Every name carries a random prefix; destroy() removes exactly what create() made.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export const canRunNetns = process.getuid?.() === 0
  && ['/usr/sbin/ip', '/usr/bin/ip'].some(existsSync) && ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].some(existsSync);

export const MAC_A = '0e:2a:00:00:00:0a';
export const MAC_B = '0e:2a:00:00:00:0b';
export const UNDERLAY_A = '192.168.77.1';
export const UNDERLAY_B = '192.168.77.2';
export const GW_A = '10.5.1.0';
export const GW_B = '10.5.2.0';

export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

export class KernelPair {
  readonly prefix = `vx${randomBytes(2).toString('hex')}`;
  readonly nsA = `${this.prefix}a`;
  readonly nsB = `${this.prefix}b`;
  readonly vethB = `${this.prefix}vb`;
  readonly vxlanA = `${this.prefix}fa`;

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

  destroy(): void {
    for (const ns of [this.nsA, this.nsB]) {
      try { sh('ip', 'netns', 'del', ns); } catch { /* never created */ }
    }
  }

  private side(n: 'a' | 'b', me: string, peer: string, mac: string, peerMac: string, subnet: string, peerSubnet: string): void {
    const ns = `${this.prefix}${n}`;
    const veth = `${this.prefix}v${n}`;
    const dev = `${this.prefix}f${n}`;
    sh('ip', 'link', 'set', veth, 'netns', ns);
    sh('ip', '-n', ns, 'addr', 'add', `${me}/24`, 'dev', veth);
    sh('ip', '-n', ns, 'link', 'set', veth, 'up');
    sh('ip', '-n', ns, 'link', 'add', dev, 'address', mac, 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', me, 'dev', veth, 'nolearning');
    sh('ip', '-n', ns, 'addr', 'add', `${subnet}/32`, 'dev', dev);
    sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    sh('bridge', '-n', ns, 'fdb', 'add', peerMac, 'dev', dev, 'dst', peer, 'self', 'permanent');
    sh('ip', '-n', ns, 'route', 'add', `${peerSubnet}/24`, 'via', peerSubnet, 'dev', dev, 'onlink');
  }
}
