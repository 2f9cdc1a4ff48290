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
});
