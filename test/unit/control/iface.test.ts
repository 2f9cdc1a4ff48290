/** flanneld's choice of the tunnel's interface, against `ip -j` answers of a host with three interfaces. */
import { describe, expect, it } from 'vitest';
import { findExtInterface } from '../../../control/iface.js';

const LINKS = [
  { ifname: 'lo', mtu: 65536, addr_info: [{ family: 'inet', local: '127.0.0.1' }] },
  { ifname: 'eth0', mtu: 1500, addr_info: [{ family: 'inet', local: '192.0.2.10' }] },
  {
    ifname: 'ens5',
    mtu: 9001,
    addr_info: [
      { family: 'inet', local: '10.1.2.3' },
      { family: 'inet', local: '10.1.9.9' },
    ],
  },
  { ifname: 'wg0', mtu: 1420, addr_info: [] },
];
const run = (defaultDev: string | null) => async (file: string, args: readonly string[]) => {
  const a = args.join(' ');
  if (a === '-j -4 addr show') return JSON.stringify(LINKS);
  if (a === '-j -4 route show default')
    return JSON.stringify(defaultDev ? [{ dst: 'default', gateway: '192.0.2.1', dev: defaultDev }] : []);
  if (a === '-j -4 route get 10.1.200.1') return JSON.stringify([{ dst: '10.1.200.1', dev: 'ens5', prefsrc: '10.1.9.9' }]);
  throw new Error(`${file} ${a}: unexpected`);
};
const pick = async (c: Parameters<typeof findExtInterface>[0], defaultDev: string | null = 'eth0') => {
  const e = await findExtInterface(c, run(defaultDev));
  return [e.name, e.address, e.mtu];
};

describe('tunnel interface', () => {
  it("default: the interface holding --public-ip, else the one of the default route; the MTU is that interface's", async () => {
    expect(await pick({})).toEqual(['eth0', '192.0.2.10', 1500]);
    expect(await pick({ publicIp: '10.1.2.3' })).toEqual(['ens5', '10.1.2.3', 9001]);
    // Behind NAT --public-ip is not local: it only changes what is advertised.
    expect(await pick({ publicIp: '203.0.113.7' })).toEqual(['eth0', '192.0.2.10', 1500]);
    await expect(findExtInterface({}, run(null))).rejects.toThrow(/no default route.*--iface, --iface-regex or --iface-can-reach/);
  });

  it('--iface by name or address, the first that exists wins', async () => {
    expect(await pick({ iface: ['bond0', 'ens5'] })).toEqual(['ens5', '10.1.2.3', 9001]);
    expect(await pick({ iface: ['10.1.9.9'] })).toEqual(['ens5', '10.1.9.9', 9001]);
    await expect(findExtInterface({ iface: ['bond0'] }, run('eth0'))).rejects.toMatchObject({
      code: 'VXTUN_ERR_CONFIG',
      message: expect.stringMatching(/none of --iface bond0/),
    });
    await expect(findExtInterface({ iface: ['wg0'] }, run('eth0'))).rejects.toThrow(/wg0 .* has no IPv4 address/);
  });

  it("--iface-regex matches addresses first, then names; --iface-can-reach takes the route's interface and source", async () => {
    expect(await pick({ ifaceRegex: ['^10\\.1\\.9\\.'] })).toEqual(['ens5', '10.1.9.9', 9001]);
    expect(await pick({ ifaceRegex: ['^nope', '^en'] })).toEqual(['ens5', '10.1.2.3', 9001]);
    await expect(findExtInterface({ ifaceRegex: ['('] }, run('eth0'))).rejects.toThrow(/is not a regular expression/);
    expect(await pick({ ifaceCanReach: '10.1.200.1' })).toEqual(['ens5', '10.1.9.9', 9001]);
  });

  it("IPv6-only (flanneld's ipv6 stack): global IPv6 addresses, the IPv6 default route, --public-ipv6 picks its holder", async () => {
    const links6 = [
      { ifname: 'eth0', mtu: 1500, addr_info: [{ family: 'inet6', local: '2001:db8::10', scope: 'global' }] },
      { ifname: 'ens5', mtu: 9001, addr_info: [{ family: 'inet6', local: 'fd00::3', scope: 'global' }] },
      { ifname: 'wg0', mtu: 1420, addr_info: [] },
    ];
    const run6 = (defaultDev: string | null) => async (file: string, args: readonly string[]) => {
      const a = args.join(' ');
      if (a === '-j -6 addr show scope global') return JSON.stringify(links6);
      if (a === '-j -6 route show default')
        return JSON.stringify(defaultDev ? [{ dst: 'default', gateway: 'fe80::1', dev: defaultDev }] : []);
      if (a === '-j -6 route get fd00:9::1') return JSON.stringify([{ dst: 'fd00:9::1', dev: 'ens5', prefsrc: 'fd00::3' }]);
      throw new Error(`${file} ${a}: unexpected`);
    };
    const pick6 = async (c: Parameters<typeof findExtInterface>[0], defaultDev: string | null = 'eth0') => {
      const e = await findExtInterface({ ...c, family: 6 }, run6(defaultDev));
      return [e.name, e.address, e.mtu];
    };
    expect(await pick6({})).toEqual(['eth0', '2001:db8::10', 1500]);
    expect(await pick6({ publicIp: 'fd00::3' })).toEqual(['ens5', 'fd00::3', 9001]);
    expect(await pick6({ iface: ['fd00::3'] })).toEqual(['ens5', 'fd00::3', 9001]);
    expect(await pick6({ iface: ['ens5'] })).toEqual(['ens5', 'fd00::3', 9001]);
    expect(await pick6({ ifaceRegex: ['^2001:'] })).toEqual(['eth0', '2001:db8::10', 1500]);
    expect(await pick6({ ifaceCanReach: 'fd00:9::1' })).toEqual(['ens5', 'fd00::3', 9001]);
    await expect(findExtInterface({ iface: ['wg0'], family: 6 }, run6('eth0'))).rejects.toThrow(/wg0 .* has no global IPv6 address/);
    await expect(findExtInterface({ family: 6 }, run6(null))).rejects.toThrow(/no IPv6 default route/);
  });
});
