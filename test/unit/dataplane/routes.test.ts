import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PeerTable, PeerView, checkPeerSubnets } from '../../../dataplane/routes.js';
import { formatIpBytes, parseCidr, parseIpBytes } from '../../../dataplane/address.js';
import { readU32 } from '../../../dataplane/packet/bytes.js';

const a = { publicIp: '192.0.2.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:02:01' };
const b = {
  publicIp: '192.0.2.3',
  subnet: '10.244.3.0/24',
  ipv6Subnet: 'fd10:244:3::/64',
  vtepMac: '02:00:00:00:03:01',
  ipv6VtepMac: '02:00:00:00:03:06',
};

function ip4(s: string): number {
  return readU32(parseIpBytes(s)!, 0);
}

describe('peer table', () => {
  it('routes inner destinations to the peer that owns the subnet', () => {
    const t = new PeerTable(16);
    const v = new PeerView(t.sab);
    t.set([a, b]);
    expect(v.refresh()).toBe(true);
    expect(v.routeV4(ip4('10.244.2.77'))?.publicIp).toEqual(Uint8Array.from([192, 0, 2, 2]));
    expect(v.routeV4(ip4('10.244.3.1'))?.mac).toEqual(Uint8Array.from([2, 0, 0, 0, 3, 1]));
    expect(v.routeV4(ip4('10.244.4.1'))).toBeUndefined();
    const dst6 = parseIpBytes('fd10:244:3::42')!;
    expect(v.routeV6(dst6, 0)?.mac6).toEqual(Uint8Array.from([2, 0, 0, 0, 3, 6]));
    expect(v.routeV6(parseIpBytes('fd10:244:4::1')!, 0)).toBeUndefined();
  });

  it('finds the sender by underlay address and checks its inner source', () => {
    const t = new PeerTable(16);
    const v = new PeerView(t.sab);
    t.set([a]);
    v.refresh();
    const p = v.bySource(4, Uint8Array.from([192, 0, 2, 2]), 0)!;
    expect(p.contains4(ip4('10.244.2.9'))).toBe(true);
    expect(p.contains4(ip4('10.244.3.9'))).toBe(false);
    expect(v.bySource(4, Uint8Array.from([192, 0, 2, 9]), 0)).toBeUndefined();
  });

  it('readers see a swap only after refresh, and an unchanged table costs no rebuild', () => {
    const t = new PeerTable(16);
    const v = new PeerView(t.sab);
    t.set([a]);
    v.refresh();
    expect(v.refresh()).toBe(false);
    t.set([b]);
    expect(v.routeV4(ip4('10.244.2.1'))).toBeDefined();
    expect(v.refresh()).toBe(true);
    expect(v.routeV4(ip4('10.244.2.1'))).toBeUndefined();
    expect(v.routeV4(ip4('10.244.3.1'))).toBeDefined();
  });

  it('rejects a bad peer list whole, keeping the old one', () => {
    const t = new PeerTable(16);
    const v = new PeerView(t.sab);
    t.set([a]);
    expect(() => t.set([b, { ...a, subnet: '10.244.2.1/24' }])).toThrow(/host bits/);
    expect(() => t.set([{ ...a, vtepMac: 'zz' }])).toThrow(expect.objectContaining({ code: 'VXTUN_ERR_CONFIG' }));
    v.refresh();
    expect(v.peers.length).toBe(1);
    // Still the old peer: its subnet routes to its address, and nothing of the refused list (b's subnet) routes.
    expect(v.routeV4(ip4('10.244.2.77'))?.publicIp).toEqual(Uint8Array.from([192, 0, 2, 2]));
    expect(v.routeV4(ip4('10.244.3.1'))).toBeUndefined();
  });

  it('longest prefix wins when subnets nest', () => {
    const t = new PeerTable(16);
    const v = new PeerView(t.sab);
    t.set([{ ...a, subnet: '10.244.0.0/16' }, b]);
    v.refresh();
    expect(v.routeV4(ip4('10.244.3.5'))?.publicIp[3]).toBe(3);
    expect(v.routeV4(ip4('10.244.9.5'))?.publicIp[3]).toBe(2);
  });
});

describe('address text', () => {
  it.each([
    ['10.244.1.0/24', 4, 24],
    ['fd10:244:1::/64', 6, 64],
    ['::/0', 6, 0],
  ])('parses %s', (text, family, len) => {
    const c = parseCidr(text, 'x');
    expect(c.family).toBe(family);
    expect(c.prefixLen).toBe(len);
  });
  it.each(['10.244.1.0', '10.244.1.0/33', 'fd::/129', 'nope/8'])('rejects %s', (text) => {
    expect(() => parseCidr(text, 'x')).toThrow(expect.objectContaining({ code: 'VXTUN_ERR_CONFIG' }));
  });
  it.each(['fd10:244:1::42', '::1', '2001:db8::1:0:0:1', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8'])('round-trips %s', (text) => {
    const bytes = parseIpBytes(text)!;
    expect(parseIpBytes(formatIpBytes(bytes, 6))).toEqual(bytes);
  });
});

describe('peer subnet checks', () => {
  const peer = (subnet: string) => ({ publicIp: '192.0.2.9', subnet, vtepMac: '02:00:00:00:09:01' });
  const cidr = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 8, max: 24 })).map(([hi, len]) => {
    const ip = ((10 << 24) | (hi << 8)) >>> 0;
    const masked = len === 0 ? 0 : (ip & ((0xffffffff << (32 - len)) >>> 0)) >>> 0;
    return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`;
  });
  const range = (c: string) => {
    const [a, len] = c.split('/');
    const start = ip4(a);
    return [start, start + 2 ** (32 - Number(len)) - 1];
  };

  it('refuses a peer list exactly when two subnets, or a peer and ours, share an address (against a brute-force check)', () => {
    fc.assert(
      fc.property(cidr, fc.array(cidr, { maxLength: 8 }), (own, subnets) => {
        const all = [own, ...subnets].map(range);
        let overlapping = false;
        for (let i = 0; i < all.length; i++)
          for (let j = i + 1; j < all.length; j++) {
            if (all[i][0] <= all[j][1] && all[j][0] <= all[i][1]) overlapping = true;
          }
        const run = () => checkPeerSubnets({ subnet: own }, subnets.map(peer));
        if (overlapping) expect(run).toThrow(/^peers\[\d+\]\.subnet: .* (is our own subnet|overlaps)/);
        else expect(run).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('names the later peer and the one it overlaps, also when others lie between them', () => {
    expect(() => checkPeerSubnets({ subnet: '10.9.0.0/24' }, [peer('10.1.0.0/24'), peer('10.2.0.0/24'), peer('10.0.0.0/14')])).toThrow(
      'peers[2].subnet: 10.0.0.0/14 overlaps peers[0].subnet 10.1.0.0/24',
    );
    expect(() => checkPeerSubnets({ ipv6Subnet: 'fd10:244:1::/64' }, [{ ...peer('10.1.0.0/24'), ipv6Subnet: 'fd10:244::/32' }])).toThrow(
      'peers[0].ipv6Subnet: fd10:244::/32 overlaps our ipv6Subnet fd10:244:1::/64',
    );
  });
});

describe('peer counter slots', () => {
  const p = (n: number) => ({ publicIp: `192.0.2.${n}`, subnet: `10.244.${n}.0/24`, vtepMac: `02:00:00:00:0${n}:01` });

  it("a peer keeps its slot across reloads (also with a new MAC); a removed peer's slot goes to the next new one, marked fresh", () => {
    const t = new PeerTable(4);
    const first = t.set([p(1), p(2)]);
    expect(first.fresh.sort()).toEqual([...first.slots].sort());
    const second = t.set([p(2), { ...p(1), vtepMac: '02:00:00:00:09:09' }]);
    expect(second).toEqual({ slots: [first.slots[1], first.slots[0]], fresh: [] });
    const third = t.set([p(2), p(3)]);
    expect(third.slots[0]).toBe(first.slots[1]);
    expect(third.fresh).toEqual([first.slots[0]]);
    expect(third.slots[1]).toBe(first.slots[0]);
    const v = new PeerView(t.sab);
    v.refresh();
    expect(v.peers.map((e) => e.slot)).toEqual(third.slots);
  });
});
