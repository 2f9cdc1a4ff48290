/** subnet.env read as Flannel's CNI plugin reads it, and the delegate config built from it. */
import { describe, expect, it } from 'vitest';
import { parseFlannelEnv } from '../../../control/cni/flannel-env.js';
import { buildDelegateConfig, parseNetConf } from '../../../control/cni/netconf.js';
import { CniError } from '../../../control/cni/errors.js';
import { conflist, launcherScript } from '../../../control/cni/command.js';
import { formatSubnetEnv } from '../../../control/subnet/subnet-env.js';
import { parseSubnet4 } from '../../../control/subnet/ip4.js';
import { parseSubnet6 } from '../../../control/subnet/ip6.js';

const DUAL =
  'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';

const codeOf = (f: () => unknown): number | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof CniError ? err.code : -1;
  }
  return undefined;
};

describe('subnet.env', () => {
  it('keeps the network of each subnet, the gateway as its first address, and drops duplicate networks', () => {
    expect(parseFlannelEnv(`${DUAL}FLANNEL_NETWORK=10.1.0.0/16,10.1.0.0/16,10.9.0.0/16\r\n`)).toEqual({
      networks: ['10.1.0.0/16', '10.9.0.0/16', 'fc00::/48'],
      subnets: [
        { cidr: '10.1.17.0/24', gateway: '10.1.17.1' },
        { cidr: 'fc00::/64', gateway: 'fc00::1' },
      ],
      mtu: 1472,
      ipMasq: true,
    });
  });

  it('reads back what `vxtun agent` writes for a dual-stack lease', () => {
    const text = formatSubnetEnv({
      network: parseSubnet4('10.244.0.0/16')!,
      subnet: parseSubnet4('10.244.7.0/24')!,
      mtu: 1450,
      ipMasq: false,
      ipv6: { network: parseSubnet6('fd10:244::/48')!, subnet: parseSubnet6('fd10:244:0:7::/64')! },
    });
    expect(parseFlannelEnv(text)).toEqual({
      networks: ['10.244.0.0/16', 'fd10:244::/48'],
      subnets: [
        { cidr: '10.244.7.0/24', gateway: '10.244.7.1' },
        { cidr: 'fd10:244:0:7::/64', gateway: 'fd10:244:0:7::1' },
      ],
      mtu: 1450,
      ipMasq: false,
    });
  });

  it('works IPv6-only, and reads FLANNEL_IPMASQ=false', () => {
    const env = parseFlannelEnv(
      'FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:48::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n',
    );
    expect(env).toEqual({
      networks: ['fc00::/48'],
      subnets: [{ cidr: 'fc00:0:0:48::/64', gateway: 'fc00:0:0:48::1' }],
      mtu: 1430,
      ipMasq: false,
    });
  });

  it.each([
    ['a missing key', 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\n'],
    ['an IPv6 CIDR under an IPv4 key', 'FLANNEL_NETWORK=fc00::/48\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'],
    ['a line without "="', `${DUAL}garbage\n`],
    ['IPMASQ that is not a boolean', 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=yes\n'],
  ])('refuses %s with code 6 (failed to decode content)', (_what, text) => {
    expect(codeOf(() => parseFlannelEnv(text))).toBe(6);
  });
});

describe('the delegate config', () => {
  it("is Flannel's for a dual-stack subnet.env, plus explicit route gateways and a default route", () => {
    const d = buildDelegateConfig(parseNetConf({ name: 'cni-flannel', type: 'vxtun' }), parseFlannelEnv(DUAL));
    expect(d).toEqual({
      name: 'cni-flannel',
      type: 'bridge',
      ipMasq: false,
      isGateway: true,
      isDefaultGateway: true,
      mtu: 1472,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fc00::/64' }]],
        routes: [
          { dst: '10.1.0.0/16', gw: '10.1.17.1' },
          { dst: 'fc00::/48', gw: 'fc00::1' },
        ],
      },
    });
  });

  it('takes delegate overrides, the input cniVersion, ipam keys and runtimeConfig; ipMasq is NOT FLANNEL_IPMASQ', () => {
    const conf = parseNetConf({
      cniVersion: '0.4.0',
      name: 'n',
      type: 'vxtun',
      delegate: { bridge: 'br9', isDefaultGateway: false, mtu: 1400, cniVersion: '9' },
      ipam: { dataDir: '/x', routes: [{ dst: '192.0.2.0/24' }] },
      runtimeConfig: { portMappings: [] },
    });
    const d = buildDelegateConfig(conf, parseFlannelEnv(DUAL.replace('IPMASQ=true', 'IPMASQ=false')));
    expect(d).toMatchObject({
      bridge: 'br9',
      isDefaultGateway: false,
      mtu: 1400,
      cniVersion: '0.4.0',
      ipMasq: true,
      runtimeConfig: { portMappings: [] },
    });
    expect(d.ipam).toMatchObject({
      dataDir: '/x',
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: 'fc00::/48', gw: 'fc00::1' }],
    });
  });

  it('refuses delegate.name and delegate.ipam (code 2) and a non-string delegate.type (code 7)', () => {
    expect(codeOf(() => parseNetConf({ name: 'n', delegate: { name: 'x' } }))).toBe(2);
    expect(codeOf(() => parseNetConf({ name: 'n', delegate: { ipam: {} } }))).toBe(2);
    expect(codeOf(() => parseNetConf({ name: 'n', delegate: { type: 5 } }))).toBe(7);
    expect(codeOf(() => parseNetConf({ name: 'n', ipam: 'host-local' }))).toBe(7);
  });
});

describe('vxtun cni install / config', () => {
  it('the launcher execs node on the plugin entry with both paths quoted for sh', () => {
    expect(launcherScript("/opt/node it's/bin/node", '/x/main.js')).toContain(`exec '/opt/node it'\\''s/bin/node' '/x/main.js' "$@"`);
  });

  it('the conflist names the network and lists vxtun, then portmap unless left out', () => {
    expect(conflist({ name: 'vxtun', cniVersion: '1.0.0', subnetFile: '/run/flannel/subnet.env', portmap: true })).toEqual({
      cniVersion: '1.0.0',
      name: 'vxtun',
      plugins: [
        { type: 'vxtun', delegate: { hairpinMode: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
    expect(conflist({ name: 'n', cniVersion: '0.4.0', subnetFile: '/s.env', portmap: false }).plugins).toEqual([
      { type: 'vxtun', delegate: { hairpinMode: true }, subnetFile: '/s.env' },
    ]);
    expect(() => conflist({ name: 'bad name', cniVersion: '1.0.0', subnetFile: '/s', portmap: true })).toThrow(
      /VXTUN_ERR_CONFIG|network name/,
    );
  });
});
