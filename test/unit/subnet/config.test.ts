/** Flannel's network config: its defaults and checks, and Go's case-insensitive keys. */
import { describe, expect, it } from 'vitest';
import { parseNetworkConfig, vxlanBackend } from '../../../control/subnet/config.js';
import { formatIp4 } from '../../../control/subnet/ip4.js';

const parse = (o: unknown) => parseNetworkConfig(JSON.stringify(o));
const range = (o: unknown) => {
  const c = parse(o);
  return [c.subnetLen, formatIp4(c.subnetMin), formatIp4(c.subnetMax)];
};

describe('network config', () => {
  it("applies Flannel's defaults: /24 subnets for a /22 or wider, the first subnet skipped", () => {
    expect(range({ Network: '10.244.0.0/16' })).toEqual([24, '10.244.1.0', '10.244.255.0']);
    expect(range({ Network: '10.0.0.0/8' })).toEqual([24, '10.0.1.0', '10.255.255.0']);
    expect(range({ Network: '10.5.0.0/22' })).toEqual([24, '10.5.1.0', '10.5.3.0']);
    expect(range({ Network: '10.5.0.0/23' })).toEqual([25, '10.5.0.128', '10.5.1.128']);
    expect(range({ Network: '10.5.0.0/28' })).toEqual([30, '10.5.0.4', '10.5.0.12']);
  });

  it('decodes keys case-insensitively like Go and honours SubnetLen/Min/Max', () => {
    const c = parse({
      network: '10.244.0.0/16',
      SUBNETLEN: 26,
      subnetmin: '10.244.8.0',
      SubnetMax: '10.244.9.192',
      backend: { type: 'vxlan', vni: 7, PORT: 4789 },
    });
    expect([c.subnetLen, formatIp4(c.subnetMin), formatIp4(c.subnetMax)]).toEqual([26, '10.244.8.0', '10.244.9.192']);
    expect(vxlanBackend(c)).toEqual({ type: 'vxlan', vni: 7, port: 4789, mtu: undefined, directRouting: false, warnings: [] });
  });

  it('vxlan backend defaults: VNI 1, port 8472', () => {
    expect(vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } }))).toEqual({
      type: 'vxlan',
      vni: 1,
      port: 8472,
      mtu: undefined,
      directRouting: false,
      warnings: [],
    });
  });

  it.each([
    [{}, /Network is missing/],
    [{ Network: '10.244.0.1/16' }, /not an IPv4 network address/],
    [{ Network: '10.244.0.0/16', SubnetLen: 31 }, /\/30 or shorter/],
    [{ Network: '10.244.0.0/16', SubnetLen: 17 }, /at least four \/17 subnets/],
    [{ Network: '10.5.0.0/29' }, /too small/],
    [{ Network: '10.244.0.0/16', SubnetMin: '10.245.0.0' }, /SubnetMin 10.245.0.0 is not inside/],
    [{ Network: '10.244.0.0/16', SubnetMax: '10.244.3.7' }, /SubnetMax 10.244.3.7 is not on a \/24 boundary/],
    [{ Network: '10.244.0.0/16', SubnetMin: '10.244.9.0', SubnetMax: '10.244.3.0' }, /above SubnetMax/],
    [{ Network: '10.244.0.0/16', EnableIPv6: true }, /IPv6Network is missing/],
    [
      { Network: '10.244.0.0/16', Networks: ['10.244.0.0/16', '10.245.0.0/16'] },
      /Networks \(several networks\) is not supported by vxtun; give one network in Network/,
    ],
  ])('refuses %j with a message that says what is wrong', (cfg, msg) => {
    expect(() => parse(cfg)).toThrow(msg);
    try {
      parse(cfg);
    } catch (err) {
      expect((err as { code: string }).code).toBe('VXTUN_ERR_CONFIG');
    }
  });

  it('refuses non-JSON and backends vxtun does not speak', () => {
    expect(() => parseNetworkConfig('{"Network":', '/coreos.com/network/config')).toThrow(/\/coreos.com\/network\/config: is not JSON/);
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16' }))).toThrow(/"udp" \(Flannel's default when Backend.Type is missing\)/);
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }))).toThrow(/speaks only "vxlan"/);
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', GBP: true } }))).toThrow(
      /Backend.GBP is not supported by vxtun/,
    );
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', DirectRouting: 'yes' } }))).toThrow(
      /DirectRouting must be true or false/,
    );
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', MTU: 600 } }))).toThrow(
      /Backend.MTU 600 is the link MTU and must be at least 626/,
    );
    expect(() => vxlanBackend(parse({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 1 << 24 } }))).toThrow(
      /VNI must be an integer/,
    );
  });

  it("Backend fields with Flannel's meaning: MTU is the link MTU, DirectRouting a flag; ignored ones are named in a warning", () => {
    const b = vxlanBackend(
      parse({
        Network: '10.244.0.0/16',
        EnableNFTables: true,
        Backend: { Type: 'vxlan', mtu: 9001, directrouting: true, Learning: true, MacPrefix: '0E-2A', Colour: 'blue', GBP: false },
      }),
    );
    expect([b.mtu, b.directRouting]).toEqual([9001, true]);
    expect(b.warnings).toEqual([
      'EnableNFTables is ignored: --ip-masq uses nftables where the host has nft, else iptables',
      'Backend.Learning is ignored: vxtun routes by the leases, so learning source addresses from traffic adds nothing',
      'Backend.MacPrefix is ignored: Flannel uses it only on Windows hosts',
      "Backend.Colour is not a field of Flannel's vxlan backend and is ignored",
    ]);
  });
});
