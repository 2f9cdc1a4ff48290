/**
 * Flannel's dual stack: the config's IPv6 fields with flannel's defaults and checks, the IPv6 spelling Go writes
 * into keys and subnet.env, the lease key and value, and the lease policy picking an IPv6 subnet beside the IPv4 one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseNetworkConfig } from '../../../control/subnet/config.js';
import { formatIp6, formatSubnet6, parseIp6, parseSubnet6 } from '../../../control/subnet/ip6.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';
import {
  decodeLeaseAttrs,
  encodeLeaseAttrs,
  subnetKey,
  subnetsFromKey,
  vxlanLeaseAttrs,
  vxlanPeerOf,
} from '../../../control/subnet/lease.js';
import { LeaseManager } from '../../../control/subnet/manager.js';
import { MemoryLeaseStore } from '../../../control/subnet/memory-store.js';
import { readPreviousIpv6Subnet, writeSubnetEnv } from '../../../control/subnet/subnet-env.js';

const silent = { info() {}, warn() {}, error() {} };
const dual = (extra: object = {}) =>
  parseNetworkConfig(
    JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48', Backend: { Type: 'vxlan' }, ...extra }),
  );
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('dual stack', () => {
  it("spells IPv6 addresses as Go's net.IP.String() does", () => {
    for (const [text, go] of [
      ['fc00:0:0:1::', 'fc00:0:0:1::'],
      ['FC00:0000:0000:0001:0000:0000:0000:0000', 'fc00:0:0:1::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
    ]) {
      expect(formatIp6(parseIp6(text)!)).toBe(go);
    }
    expect(parseIp6('10.0.0.1')).toBeNull();
    expect(parseSubnet6('fc00::1/64')).toBeNull();
    expect(formatSubnet6(parseSubnet6('fc00:0:0:1::-64', '-')!)).toBe('fc00:0:0:1::/64');
  });

  it("config: IPv6SubnetLen 64 by default, the first subnet skipped, Flannel's checks", () => {
    const v6 = dual().ipv6!;
    expect([formatSubnet6(v6.network), v6.subnetLen, formatIp6(v6.subnetMin), formatIp6(v6.subnetMax)]).toEqual([
      'fc00::/48',
      64,
      'fc00:0:0:1::',
      'fc00:0:0:ffff::',
    ]);
    expect(dual({ IPv6Network: 'fc00::/63' }).ipv6!.subnetLen).toBe(65);
    expect(dual({ ipv6subnetlen: 56, IPv6SubnetMin: 'fc00:0:0:200::', IPv6SubnetMax: 'fc00:0:0:300::' }).ipv6!.subnetMin).toBe(
      parseIp6('fc00:0:0:200::'),
    );
    expect(parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":false,"IPv6Network":"fc00::/48"}').ipv6).toBeNull();
    for (const [extra, msg] of [
      [{ IPv6Network: undefined }, /EnableIPv6 is true but IPv6Network is missing/],
      [{ IPv6Network: 'fc00::1/48' }, /not an IPv6 network address/],
      [{ IPv6SubnetLen: 127 }, /\/126 or shorter/],
      [{ IPv6SubnetLen: 49 }, /at least four \/49 subnets/],
      [{ IPv6SubnetMin: 'fd00::' }, /IPv6SubnetMin fd00:: is not inside/],
      [{ IPv6SubnetMax: 'fc00:0:0:3::1' }, /not on a \/64 boundary/],
      [{ EnableIPv4: false, EnableIPv6: false }, /EnableIPv4 and EnableIPv6 are both off/],
      [{ EnableIPv6: 'yes' }, /EnableIPv6 must be true or false/],
    ] as const) {
      expect(() => dual(extra)).toThrow(expect.objectContaining({ code: 'VXTUN_ERR_CONFIG', message: expect.stringMatching(msg) }));
    }
  });

  it('lease key and value as flanneld writes them: `&<v6>-<len>` in the key, BackendV6Data in the value', () => {
    const key = subnetKey(parseSubnet4('10.5.72.0/24')!, parseSubnet6('fc00:0:0:1::/64')!);
    expect(key).toBe('10.5.72.0-24&fc00:0:0:1::-64');
    const back = subnetsFromKey(`/coreos.com/network/subnets/${key}`)!;
    expect([formatSubnet4(back.subnet), formatSubnet6(back.ipv6Subnet!)]).toEqual(['10.5.72.0/24', 'fc00:0:0:1::/64']);
    const value = encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:01', true, 'fd00::1'));
    expect(value).toBe(
      '{"PublicIP":"198.18.0.1","PublicIPv6":"fd00::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}',
    );
    const flannel =
      '{"PublicIP":"198.18.0.2","PublicIPv6":"fd00::2","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"AA:D2:32:6F:8F:45"}}';
    expect(vxlanPeerOf(decodeLeaseAttrs(flannel)!, 1)).toEqual({ vtepMac: 'c6:d2:32:6f:8f:44', ipv6VtepMac: 'aa:d2:32:6f:8f:45' });
  });

  it("subnet.env gets FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET in flanneld's place, and a restart reads the IPv6 subnet back", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxtun-env6-'));
    dirs.push(dir);
    const file = join(dir, 'subnet.env');
    writeSubnetEnv(file, {
      network: parseSubnet4('10.244.0.0/16')!,
      subnet: parseSubnet4('10.244.7.0/24')!,
      ipv6: { network: parseSubnet6('fc00::/48')!, subnet: parseSubnet6('fc00:0:0:7::/64')! },
      mtu: 1450,
      ipMasq: false,
    });
    expect(readFileSync(file, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:7::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
    expect(formatSubnet6(readPreviousIpv6Subnet(file)!)).toBe('fc00:0:0:7::/64');
  });

  it('the lease policy takes a free IPv6 subnet beside the IPv4 one, keeps both on reuse and on a restart from subnet.env', async () => {
    const store = new MemoryLeaseStore();
    store.putOther(
      parseSubnet4('10.244.1.0/24')!,
      encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.2', 1, '02:00:00:00:00:02', true)),
      undefined,
      parseSubnet6('fc00:0:0:1::/64')!,
    );
    const attrs = vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:01', true);
    const m = new LeaseManager({ store, config: dual(), attrs, log: silent, onLost() {}, random: () => 0 });
    const got = await m.acquire();
    expect([formatSubnet4(got.subnet), formatSubnet6(got.ipv6Subnet!), got.how]).toEqual(['10.244.2.0/24', 'fc00:0:0:2::/64', 'allocated']);
    expect(store.keys().sort()).toEqual(['10.244.1.0-24&fc00:0:0:1::-64', '10.244.2.0-24&fc00:0:0:2::-64']);
    const again = await new LeaseManager({ store, config: dual(), attrs, log: silent, onLost() {} }).acquire();
    expect([formatSubnet6(again.ipv6Subnet!), again.how]).toEqual(['fc00:0:0:2::/64', 'reused']);

    const fresh = new MemoryLeaseStore();
    const prev = await new LeaseManager({ store: fresh, config: dual(), attrs, log: silent, onLost() {} }).acquire(
      parseSubnet4('10.244.9.0/24')!,
      parseSubnet6('fc00:0:0:9::/64')!,
    );
    expect([formatSubnet4(prev.subnet), formatSubnet6(prev.ipv6Subnet!), prev.how]).toEqual([
      '10.244.9.0/24',
      'fc00:0:0:9::/64',
      'previous',
    ]);
  });

  it('an IPv4-only lease of ours no longer fits once the network turns dual-stack: it is replaced by a dual-stack one', async () => {
    const store = new MemoryLeaseStore();
    const attrs = vxlanLeaseAttrs('198.18.0.1', 1, '02:00:00:00:00:01', true);
    store.putOther(parseSubnet4('10.244.5.0/24')!, encodeLeaseAttrs(attrs));
    const got = await new LeaseManager({ store, config: dual(), attrs, log: silent, onLost() {}, random: () => 0 }).acquire();
    expect(store.keys()).toEqual([subnetKey(got.subnet, got.ipv6Subnet)]);
    expect(got.ipv6Subnet).toBeDefined();
  });
});
