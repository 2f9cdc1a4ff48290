/** Lease events -> the dataplane's peer list: our own lease and unusable ones left out, renewals not republished. */
import { describe, expect, it } from 'vitest';
import { LeasePeers } from '../../../control/agent.js';
import { parseSubnet4 } from '../../../control/subnet/ip4.js';
import { encodeLeaseAttrs, NO_IPV4_SUBNET, vxlanLeaseAttrs, vxlanLeaseAttrsV6Only } from '../../../control/subnet/lease.js';
import { parseSubnet6 } from '../../../control/subnet/ip6.js';
import type { Peer } from '../../../dataplane/dataplane.js';
import { VxtunError } from '../../../dataplane/errors.js';

const sn = (s: string) => parseSubnet4(s)!;
const lease = (subnet: string, ip: string, mac: string, vni = 1) => ({
  subnet: sn(subnet),
  value: encodeLeaseAttrs(vxlanLeaseAttrs(ip, vni, mac)),
});

function setup() {
  const published: Peer[][] = [];
  const lines: string[] = [];
  const log = { info: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`), warn() {}, error() {} };
  const peers = new LeasePeers(sn('10.244.1.0/24'), 1, { setPeers: (p) => published.push([...p]) }, log as never, '198.18.0.1');
  return { peers, published, lines };
}

describe('lease peers', () => {
  it('publishes every other vxlan lease as a peer, not our own, not other backends or VNIs', () => {
    const { peers, published, lines } = setup();
    peers.snapshot([
      lease('10.244.1.0/24', '198.18.0.1', '02:00:00:00:00:01'),
      lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02'),
      { subnet: sn('10.244.3.0/24'), value: '{"PublicIP":"198.18.0.3","PublicIPv6":null,"BackendType":"host-gw"}' },
      lease('10.244.4.0/24', '198.18.0.4', '02:00:00:00:00:04', 9),
      { subnet: sn('10.244.5.0/24'), value: 'garbage' },
    ]);
    expect(published).toEqual([[{ publicIp: '198.18.0.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:00:02' }]]);
    expect(lines.filter((l) => l.startsWith('ignoring lease')).length).toBe(3);
  });

  it('a renewal (same value) changes nothing; a new MAC, an added and a removed lease republish', () => {
    const { peers, published, lines } = setup();
    peers.snapshot([lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02')]);
    peers.apply([{ type: 'put', lease: lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02') }]);
    expect(published.length).toBe(1);
    peers.apply([
      { type: 'put', lease: lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:22') },
      { type: 'put', lease: lease('10.244.3.0/24', '198.18.0.3', '02:00:00:00:00:03') },
    ]);
    expect(published.at(-1)!.map((p) => p.vtepMac)).toEqual(['02:00:00:00:00:22', '02:00:00:00:00:03']);
    peers.apply([{ type: 'delete', subnet: sn('10.244.2.0/24') }]);
    expect(published.at(-1)!.map((p) => p.subnet)).toEqual(['10.244.3.0/24']);
    expect(lines.map((l) => l.split(' ')[0] + ' ' + l.split(' ')[1])).toEqual(['peer added', 'peer changed', 'peer added', 'peer removed']);
  });

  it('a lease covering or inside our subnet is ignored, and a peer list the dataplane refuses keeps the old one', () => {
    const { peers, published, lines } = setup();
    peers.snapshot([
      lease('10.244.0.0/20', '198.18.0.9', '02:00:00:00:00:09'),
      lease('10.244.1.128/25', '198.18.0.8', '02:00:00:00:00:08'),
      lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02'),
    ]);
    expect(published).toEqual([[{ publicIp: '198.18.0.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:00:02' }]]);
    expect(lines.filter((l) => l.startsWith('ignoring lease') && l.includes('overlaps our subnet 10.244.1.0/24')).length).toBe(2);

    const errors: string[] = [];
    const log = { info() {}, warn() {}, error: (o: object, m: string) => errors.push(`${m} ${JSON.stringify(o)}`) };
    const refusing = new LeasePeers(
      sn('10.244.1.0/24'),
      1,
      {
        setPeers: () => {
          throw new VxtunError('VXTUN_ERR_CONFIG', 'peers[1].subnet: overlaps');
        },
      },
      log as never,
      '198.18.0.1',
    );
    expect(() => refusing.snapshot([lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02')])).not.toThrow();
    expect(errors).toEqual([expect.stringContaining('peer list refused; the dataplane keeps the previous one {"code":"VXTUN_ERR_CONFIG"')]);
  });

  it('a fresh snapshot (after compaction) drops leases that vanished meanwhile', () => {
    const { peers, published } = setup();
    peers.snapshot([lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02'), lease('10.244.3.0/24', '198.18.0.3', '02:00:00:00:00:03')]);
    peers.snapshot([lease('10.244.3.0/24', '198.18.0.3', '02:00:00:00:00:03')]);
    expect(published.at(-1)!.map((p) => p.subnet)).toEqual(['10.244.3.0/24']);
  });

  it('a re-list after an outage reports what it changed: added, removed and re-addressed peers', () => {
    const { peers, published } = setup();
    peers.snapshot([lease('10.244.2.0/24', '198.18.0.2', '02:00:00:00:00:02'), lease('10.244.3.0/24', '198.18.0.3', '02:00:00:00:00:03')]);
    const diff = peers.snapshot([
      lease('10.244.3.0/24', '198.18.0.33', '02:00:00:00:00:03'),
      lease('10.244.4.0/24', '198.18.0.4', '02:00:00:00:00:04'),
      lease('10.244.5.0/24', '198.18.0.5', '02:00:00:00:00:05'),
    ]);
    expect(diff).toEqual({ added: 2, removed: 1, changed: 1 });
    expect(peers.size).toBe(3);
    expect(published.at(-1)!.map((p) => `${p.subnet}@${p.publicIp}`)).toEqual([
      '10.244.3.0/24@198.18.0.33',
      '10.244.4.0/24@198.18.0.4',
      '10.244.5.0/24@198.18.0.5',
    ]);
    expect(
      peers.snapshot([
        ...[3, 4, 5].map((n) => lease(`10.244.${n}.0/24`, n === 3 ? '198.18.0.33' : `198.18.0.${n}`, `02:00:00:00:00:0${n}`)),
      ]),
    ).toEqual({ added: 0, removed: 0, changed: 0 });
  });

  it('never routes to a lease that carries our own public IP (a second host with the same --public-ip)', () => {
    const { peers, published, lines } = setup();
    peers.snapshot([lease('10.244.2.0/24', '198.18.0.1', '02:00:00:00:00:99'), lease('10.244.3.0/24', '198.18.0.3', '02:00:00:00:00:03')]);
    expect(published.at(-1)!.map((p) => p.subnet)).toEqual(['10.244.3.0/24']);
    expect(lines.some((l) => l.startsWith('ignoring lease') && l.includes('our own public IP'))).toBe(true);
  });

  it('IPv6-only: every key shares the IPv4 part 0.0.0.0/0; peers are told apart by IPv6 subnet and reached at PublicIPv6', () => {
    const published: Peer[][] = [];
    const log = { info() {}, warn() {}, error() {} };
    const own = parseSubnet6('fc00:0:0:1::/64')!;
    const peers = new LeasePeers(NO_IPV4_SUBNET, 1, { setPeers: (p) => published.push([...p]) }, log as never, 'fd00::1', true, own);
    const v6 = (subnet: string, ip: string, mac: string) => ({
      subnet: NO_IPV4_SUBNET,
      ipv6Subnet: parseSubnet6(subnet)!,
      value: encodeLeaseAttrs(vxlanLeaseAttrsV6Only(ip, 1, mac)),
    });
    peers.snapshot([
      v6('fc00:0:0:1::/64', 'fd00::1', '02:00:00:00:00:01'),
      v6('fc00:0:0:2::/64', 'fd00::2', '02:00:00:00:00:02'),
      v6('fc00:0:0:3::/64', 'fd00::3', '02:00:00:00:00:03'),
      {
        subnet: NO_IPV4_SUBNET,
        ipv6Subnet: parseSubnet6('fc00:0:0:4::/64')!,
        value: encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.4', 1, '02:00:00:00:00:04')),
      },
    ]);
    expect(published.at(-1)).toEqual([
      { publicIp: 'fd00::2', ipv6Subnet: 'fc00:0:0:2::/64', vtepMac: '02:00:00:00:00:02' },
      { publicIp: 'fd00::3', ipv6Subnet: 'fc00:0:0:3::/64', vtepMac: '02:00:00:00:00:03' },
    ]);
    peers.apply([{ type: 'delete', subnet: NO_IPV4_SUBNET, ipv6Subnet: parseSubnet6('fc00:0:0:2::/64')! }]);
    expect(published.at(-1)).toEqual([{ publicIp: 'fd00::3', ipv6Subnet: 'fc00:0:0:3::/64', vtepMac: '02:00:00:00:00:03' }]);
  });
});
