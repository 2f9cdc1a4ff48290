import { describe, expect, it } from 'vitest';
import { writeTooBig } from '../../../dataplane/packet/icmp.js';
import { buildTcp, buildUdp, hex, ip4, ip6, ipv4HeaderValid, naiveChecksum } from './helpers.js';

const GW4 = ip4('10.5.2.0');
const GW6 = ip6('fd00:5:2::');

function icmp6Valid(pkt: Uint8Array): boolean {
  const len = pkt.length - 40;
  const ps = [...pkt.subarray(8, 40), 0, 0, len >> 8, len & 0xff, 0, 0, 0, 58];
  const all = [...ps, ...pkt.subarray(40)];
  return naiveChecksum(all, 0, all.length) === 0;
}

describe('writeTooBig', () => {
  it('ICMPv4: type 3 code 4 with the next-hop MTU, back to the sender, quoting up to 576 bytes', () => {
    const orig = buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 5000, 6000, new Uint8Array(1400).fill(7));
    const out = new Uint8Array(2000);
    const n = writeTooBig(orig, 0, orig.length, 1450, GW4, out, 0);
    expect(n).toBe(576);
    const e = out.subarray(0, n);
    expect(e.subarray(0, 20)).toEqual(
      hex('45000240 0000 4000 4001 0000 0a050200 0a050109').map((b, i) => (i === 10 || i === 11 ? e[i] : b)),
    );
    expect(ipv4HeaderValid(e)).toBe(true);
    expect([...e.subarray(20, 28)]).toEqual([3, 4, e[22], e[23], 0, 0, 0x05, 0xaa]);
    expect(naiveChecksum(e, 20, n - 20)).toBe(0);
    expect(e.subarray(28)).toEqual(orig.subarray(0, 548));
  });

  it('ICMPv4 quotes a short packet whole', () => {
    const orig = buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(10));
    const out = new Uint8Array(200);
    expect(writeTooBig(orig, 0, orig.length, 1000, GW4, out, 0)).toBe(28 + orig.length);
  });

  it('ICMPv6: type 2 with a 32-bit MTU, at most 1280 bytes, valid checksum', () => {
    const orig = buildTcp({
      family: 6,
      src: ip6('fd00:5:1::9'),
      dst: ip6('fd00:5:2::7'),
      sport: 1,
      dport: 2,
      seq: 3,
      ack: 4,
      flags: 0x10,
      payload: new Uint8Array(3000),
    });
    const out = new Uint8Array(4000);
    const n = writeTooBig(orig, 0, orig.length, 1400, GW6, out, 0);
    expect(n).toBe(1280);
    const e = out.subarray(0, n);
    expect(e[0] >> 4).toBe(6);
    expect(e[6]).toBe(58);
    expect(e.subarray(8, 24)).toEqual(GW6);
    expect(e.subarray(24, 40)).toEqual(ip6('fd00:5:1::9'));
    expect([e[40], e[41], e[44], e[45], e[46], e[47]]).toEqual([2, 0, 0, 0, 0x05, 0x78]);
    expect(icmp6Valid(e)).toBe(true);
    expect(e.subarray(48)).toEqual(orig.subarray(0, 1232));
  });

  it.each<[string, () => Uint8Array, Uint8Array]>([
    [
      'an ICMP error',
      () => {
        const p = buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(20));
        p[9] = 1;
        p[20] = 3;
        return p;
      },
      GW4,
    ],
    [
      'a non-first fragment',
      () => {
        const p = buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(20));
        p[7] = 8;
        return p;
      },
      GW4,
    ],
    ['a multicast source', () => buildUdp(4, ip4('224.0.0.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(20)), GW4],
    ['an unspecified IPv6 source', () => buildUdp(6, ip6('::'), ip6('fd00::1'), 1, 2, new Uint8Array(20)), GW6],
    [
      'an ICMPv6 error',
      () => {
        const p = buildUdp(6, ip6('fd00::2'), ip6('fd00::1'), 1, 2, new Uint8Array(20));
        p[6] = 58;
        p[40] = 1;
        return p;
      },
      GW6,
    ],
    ['a gateway of the other family', () => buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(20)), GW6],
    ['bytes that are not IP', () => new Uint8Array(40), GW4],
  ])('sends nothing for %s', (_n, make, gw) => {
    const p = make();
    expect(writeTooBig(p, 0, p.length, 1000, gw, new Uint8Array(1500), 0)).toBe(0);
  });

  it('sends nothing when the output has no room for the minimum quote', () => {
    const p = buildUdp(4, ip4('10.5.1.9'), ip4('10.5.2.7'), 1, 2, new Uint8Array(100));
    expect(writeTooBig(p, 0, p.length, 1000, GW4, new Uint8Array(50), 0)).toBe(0);
  });
});
