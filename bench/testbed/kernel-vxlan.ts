import type { HostName, Testbed } from './netns.js';
import { overlayMtu as vxlanOverlayMtu } from '../../dataplane/packet/vxlan.js';
import { overlayMtu, subnetAddress, randomVtepMac, type OverlayPeer } from './overlay.js';

export interface FlannelVxlanOptions {
  readonly vni?: number;
  readonly port?: number;
  /** This host's lease, e.g. 10.244.1.0/24. */
  readonly subnet: string;
  readonly vtepMac?: string;
  readonly peers: readonly OverlayPeer[];
  /** Flannel's `Backend.MTU`: the link MTU; the device gets MTU − 50 (− 70 over IPv6). Default: the testbed's. */
  readonly linkMtu?: number;
  /** Flannel's `DirectRouting`: peers on the same link get `ip route replace <subnet> via <publicIp>`, no tunnel. */
  readonly directRouting?: boolean;
  /** The tunnel's local address and underlay device, when not the host's testbed veth (e.g. a link to a relay). */
  readonly underlay?: { readonly ip: string; readonly dev: string };
}

export interface FlannelVxlan {
  readonly device: string;
  readonly vtepMac: string;
  /** `<subnet>.0`, on the device as /32: the source address of host-originated overlay traffic. */
  readonly overlayIp: string;
  readonly mtu: number;
  /** Deletes the device, which takes its neighbour, FDB entries and routes with it. */
  remove(): Promise<void>;
}

/**
 * The kernel VXLAN device exactly as Flannel's vxlan backend configures it (pkg/backend/vxlan: device.go,
 * vxlan_network.go): `flannel.<VNI>`, local = public IP, learning off, no l2miss/l3miss, kernel default UDP
 * checksum; `<subnet>.0/32` on the device; per peer a permanent neighbour for `<peer subnet>.0`, a permanent FDB
 * entry for the peer's VTEP MAC, then (last, so the kernel never has to resolve) an onlink route. With
 * DirectRouting a peer on the same link gets a plain route via its public IP instead.
 */
export async function setupFlannelVxlan(tb: Testbed, host: HostName, opts: FlannelVxlanOptions): Promise<FlannelVxlan> {
  const vni = opts.vni ?? 1;
  const port = opts.port ?? 8472;
  const device = `flannel.${vni}`;
  const vtepMac = opts.vtepMac ?? randomVtepMac();
  const overlayIp = subnetAddress(opts.subnet);
  const mtu = opts.linkMtu === undefined ? overlayMtu(tb) : vxlanOverlayMtu(opts.linkMtu, tb.ipv6Underlay ? 6 : 4);
  const self = tb.hosts[host];
  const ip = (...argv: string[]): Promise<unknown> => tb.exec(host, ['ip', ...argv]);

  // Flannel sets the MAC at creation so udev's MACAddressPolicy cannot replace it (flannel#1155).
  await ip(
    'link',
    'add',
    device,
    'address',
    vtepMac,
    'mtu',
    String(mtu),
    'type',
    'vxlan',
    'id',
    String(vni),
    'local',
    opts.underlay?.ip ?? self.underlayIp,
    'dev',
    opts.underlay?.dev ?? self.dev,
    'dstport',
    String(port),
    'nolearning',
  );
  const remove = async (): Promise<void> => {
    await tb.exec(host, ['ip', 'link', 'del', device], { allowFail: true });
    if (opts.directRouting) for (const peer of opts.peers) await tb.exec(host, ['ip', 'route', 'del', peer.subnet], { allowFail: true });
  };
  try {
    await tb.exec(host, ['sysctl', '-q', '-w', `net.ipv6.conf.${device.replace('.', '/')}.accept_ra=0`], {
      allowFail: true,
    });
    await ip('addr', 'add', `${overlayIp}/32`, 'dev', device);
    await ip('link', 'set', device, 'up');
    for (const peer of opts.peers) {
      // Every testbed peer shares the underlay link, so DirectRouting always applies here.
      if (opts.directRouting) {
        await ip('route', 'replace', peer.subnet, 'via', peer.publicIp);
        continue;
      }
      const gateway = subnetAddress(peer.subnet);
      await ip('neigh', 'replace', gateway, 'dev', device, 'lladdr', peer.vtepMac, 'nud', 'permanent');
      await tb.exec(host, ['bridge', 'fdb', 'replace', peer.vtepMac, 'dev', device, 'self', 'dst', peer.publicIp, 'permanent']);
      await ip('route', 'replace', peer.subnet, 'via', gateway, 'dev', device, 'onlink');
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { device, vtepMac, overlayIp, mtu, remove };
}
