/**
 * IPv6-only networks (`"EnableIPv4": false`), as flanneld's etcd registry and vxlan backend store them: the key keeps
 * Go's zero IPv4 part (`0.0.0.0-0&fc00:0:0:1::-64`, the only form Flannel's ParseSubnetKey accepts), the value has
 * PublicIP "0.0.0.0", PublicIPv6 and BackendV6Data only; subnet.env has only the IPv6 lines.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inRange, parseNetworkConfig } from '../../../control/subnet/config.js';
import { formatSubnet6, parseSubnet6 } from '../../../control/subnet/ip6.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';
import {
  decodeLeaseAttrs,
  encodeLeaseAttrs,
  NO_IPV4_SUBNET,
  subnetKey,
  subnetsFromKey,
  vxlanLeaseAttrsV6Only,
  vxlanV6PeerOf,
} from '../../../control/subnet/lease.js';
import { LeaseManager } from '../../../control/subnet/manager.js';
import { MemoryLeaseStore } from '../../../control/subnet/memory-store.js';
import { readPreviousIpv6Subnet, readPreviousSubnet, writeSubnetEnv } from '../../../control/subnet/subnet-env.js';

const silent = { info() {}, warn() {}, error() {} };
const v6only = () => parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"vxlan"}}');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('IPv6-only network', () => {
  it("config: accepted with Flannel's IPv6 defaults; the IPv4 fields stay zero and Network is not needed", () => {
    const cfg = v6only();
    expect(cfg.enableIPv4).toBe(false);
    expect([formatSubnet6(cfg.ipv6!.network), cfg.ipv6!.subnetLen]).toEqual(['fc00::/48', 64]);
    expect(inRange(cfg, NO_IPV4_SUBNET)).toBe(true);
    expect(inRange(cfg, parseSubnet4('10.244.1.0/24')!)).toBe(false);
    expect(() => parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"Backend":{"Type":"vxlan"}}')).toThrow(
      /EnableIPv6 is true but IPv6Network is missing/,
    );
    expect(() => parseNetworkConfig('{"EnableIPv4":false,"IPv6Network":"fc00::/48"}')).toThrow(/EnableIPv4 and EnableIPv6 are both off/);
  });

  it('lease key `0.0.0.0-0&<v6>-<len>` both ways, value with PublicIP 0.0.0.0, PublicIPv6 and BackendV6Data only', () => {
    const key = subnetKey(NO_IPV4_SUBNET, parseSubnet6('fc00:0:0:1::/64')!);
    expect(key).toBe('0.0.0.0-0&fc00:0:0:1::-64');
    const back = subnetsFromKey(`/coreos.com/network/subnets/${key}`)!;
    expect([formatSubnet4(back.subnet), formatSubnet6(back.ipv6Subnet!)]).toEqual(['0.0.0.0/0', 'fc00:0:0:1::/64']);
    const value = encodeLeaseAttrs(vxlanLeaseAttrsV6Only('fd00::1', 1, '02:00:00:00:00:01'));
    expect(value).toBe(
      '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00::1","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}',
    );
    expect(vxlanV6PeerOf(decodeLeaseAttrs(value)!, 1)).toEqual({ publicIpv6: 'fd00::1', vtepMac: '02:00:00:00:00:01' });
    expect(vxlanV6PeerOf(decodeLeaseAttrs(value)!, 2)).toEqual({ skip: 'VNI 1 differs from ours (2)' });
    expect(vxlanV6PeerOf(decodeLeaseAttrs('{"PublicIP":"0.0.0.0","PublicIPv6":null,"BackendType":"vxlan"}')!, 1)).toEqual({
      skip: 'PublicIPv6 is missing or not an IPv6 address',
    });
  });

  it('subnet.env has only the IPv6 lines, and a restart reads the IPv6 subnet back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vxtun-env6only-'));
    dirs.push(dir);
    const file = join(dir, 'subnet.env');
    writeSubnetEnv(file, {
      ipv6: { network: parseSubnet6('fc00::/48')!, subnet: parseSubnet6('fc00:0:0:7::/64')! },
      mtu: 1430,
      ipMasq: false,
    });
    expect(readFileSync(file, 'utf8')).toBe(
      'FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:7::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n',
    );
    expect(readPreviousSubnet(file)).toBeUndefined();
    expect(formatSubnet6(readPreviousIpv6Subnet(file)!)).toBe('fc00:0:0:7::/64');
  });

  it('hosts are told apart by PublicIPv6 and their IPv6 subnets: two hosts get two leases; a restart reuses its own', async () => {
    const store = new MemoryLeaseStore();
    const attrs = (n: number) => vxlanLeaseAttrsV6Only(`fd00::${n}`, 1, `02:00:00:00:00:0${n}`);
    const a = await new LeaseManager({ store, config: v6only(), attrs: attrs(1), log: silent, onLost() {}, random: () => 0 }).acquire();
    const b = await new LeaseManager({ store, config: v6only(), attrs: attrs(2), log: silent, onLost() {}, random: () => 0 }).acquire();
    expect([formatSubnet6(a.ipv6Subnet!), formatSubnet6(b.ipv6Subnet!), a.how, b.how]).toEqual([
      'fc00:0:0:1::/64',
      'fc00:0:0:2::/64',
      'allocated',
      'allocated',
    ]);
    expect(store.keys().sort()).toEqual(['0.0.0.0-0&fc00:0:0:1::-64', '0.0.0.0-0&fc00:0:0:2::-64']);
    const again = await new LeaseManager({ store, config: v6only(), attrs: attrs(2), log: silent, onLost() {} }).acquire();
    expect([formatSubnet6(again.ipv6Subnet!), again.how]).toEqual(['fc00:0:0:2::/64', 'reused']);
    const prev = await new LeaseManager({ store, config: v6only(), attrs: attrs(3), log: silent, onLost() {} }).acquire(
      undefined,
      parseSubnet6('fc00:0:0:9::/64')!,
    );
    expect([formatSubnet6(prev.ipv6Subnet!), prev.how]).toEqual(['fc00:0:0:9::/64', 'previous']);
  });

  it("another host's lease is not ours although every IPv6-only key shares the IPv4 part; our own deleted key is taken back", async () => {
    const store = new MemoryLeaseStore();
    const lost: Error[] = [];
    const m = new LeaseManager({
      store,
      config: v6only(),
      attrs: vxlanLeaseAttrsV6Only('fd00::1', 1, '02:00:00:00:00:01'),
      log: silent,
      onLost: (e) => lost.push(e),
      random: () => 0,
    });
    const got = await m.acquire();
    const other = encodeLeaseAttrs(vxlanLeaseAttrsV6Only('fd00::2', 1, '02:00:00:00:00:02'));
    m.observe({ type: 'put', lease: { subnet: NO_IPV4_SUBNET, ipv6Subnet: parseSubnet6('fc00:0:0:5::/64')!, value: other } });
    m.observe({ type: 'delete', subnet: NO_IPV4_SUBNET, ipv6Subnet: parseSubnet6('fc00:0:0:5::/64')! });
    expect(lost).toEqual([]);
    m.observe({ type: 'put', lease: { subnet: NO_IPV4_SUBNET, ipv6Subnet: got.ipv6Subnet, value: other } });
    expect(lost.map((e) => (e as { code?: string }).code)).toEqual(['VXTUN_ERR_LEASE_CONFLICT']);
    expect(lost[0].message).toContain('lease conflict on fc00:0:0:1::/64: host fd00::2');
    m.stop();
  });
});
