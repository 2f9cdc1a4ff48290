import { overlayMtu } from '../testbed/overlay.js';
import { deviceExists, firstLine, otherHost, type PeerEnd, type PeerTool } from './userspace.js';

export const OPENVPN_PORT = 1194;

/**
 * OpenVPN 2.6 peer to peer over UDP without TLS and without a key: `--cipher none --auth none` carries packets
 * in clear text (OpenVPN 2.6 warns that 2.7 drops this; a TLS setup would encrypt). `--disable-dco` keeps the
 * data channel in the userspace process even where the ovpn-dco module exists. The benchmark puts the addresses
 * and routes on the device itself (`--ifconfig-noexec`), the same way for every userspace mode.
 */
export function openvpnArgs(self: PeerEnd, peer: PeerEnd): string[] {
  const proto = self.underlayIp.includes(':') ? 'udp6' : 'udp';
  return [
    'openvpn',
    '--dev',
    self.device,
    '--dev-type',
    'tun',
    '--proto',
    proto,
    '--local',
    self.underlayIp,
    '--lport',
    String(OPENVPN_PORT),
    '--remote',
    peer.underlayIp,
    '--rport',
    String(OPENVPN_PORT),
    '--cipher',
    'none',
    '--auth',
    'none',
    '--tun-mtu',
    String(self.mtu),
    '--ifconfig-noexec',
    '--route-noexec',
    '--disable-dco',
    '--verb',
    '3',
  ];
}

export const openvpn: PeerTool = {
  name: 'openvpn',
  deviceLetter: 'o',
  // 28 bytes of outer IPv4 + UDP and a few of OpenVPN's own: well within the 50 VXLAN takes.
  mtu: (tb) => overlayMtu(tb),
  details: async (tb) =>
    `${(await firstLine(tb, ['openvpn', '--version'])).split(' ').slice(0, 2).join(' ')}; ` +
    'peer to peer over UDP, no TLS, --cipher none --auth none: unencrypted',
  prepare: () => {},
  command: (ends, host) => openvpnArgs(ends[host], ends[otherHost(host)]),
  ready: async (tb, end, output) => /UDPv[46] link local/.test(output) && (await deviceExists(tb, end)),
};
