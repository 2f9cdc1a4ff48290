/** Receive-side inner checksum verification: intact, partial (same-machine kernel peer) and corrupted packets. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InnerChecksum, verifyInnerChecksums } from '../../../dataplane/offload/partial.js';
import { parseIp } from '../../../dataplane/packet/ip.js';
import { sumRange } from '../../../dataplane/sys/csum.js';
import { buildTcp, buildUdp, ip4, ip6, partialChecksum } from '../packet/helpers.js';

const addrs = (family: 4 | 6) =>
  family === 4 ? { src: ip4('10.5.1.2'), dst: ip4('10.5.2.3') } : { src: ip6('fd00:5:1::2'), dst: ip6('fd00:5:2::3') };
const tcp = (family: 4 | 6, payload: Uint8Array) =>
  buildTcp({ family, ...addrs(family), sport: 5000, dport: 80, seq: 1, ack: 1, flags: 0x10, payload });
const udp = (family: 4 | 6, payload: Uint8Array) => {
  const a = addrs(family);
  return buildUdp(family, a.src, a.dst, 5000, 53, payload);
};
/** Both summers must agree: the JS default and the shim's (the packet path's). */
const verify = (pkt: Uint8Array) => {
  const ip = parseIp(pkt, 0, pkt.length)!;
  const js = verifyInnerChecksums(pkt, 0, ip);
  expect(verifyInnerChecksums(pkt, 0, ip, sumRange)).toBe(js);
  return js;
};
const setField = (pkt: Uint8Array, family: 4 | 6, at: number, v: number) =>
  new DataView(pkt.buffer).setUint16((family === 4 ? 20 : 40) + at, v);

describe('verifyInnerChecksums', () => {
  for (const family of [4, 6] as const) {
    for (const [proto, build, at] of [
      ['TCP', tcp, 16],
      ['UDP', udp, 6],
    ] as const) {
      it(`IPv${family} ${proto}: intact OK, partial PARTIAL, any single bit flip past the IP header BAD`, () => {
        fc.assert(
          fc.property(fc.uint8Array({ minLength: 1, maxLength: 1400 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (payload, pos, bit) => {
            const pkt = build(family, payload);
            expect(verify(pkt)).toBe(InnerChecksum.OK);
            const iph = family === 4 ? 20 : 40;
            const flipped = Uint8Array.from(pkt);
            flipped[iph + (pos % (pkt.length - iph))] ^= 1 << bit;
            // A flip that turns an IPv4 UDP checksum into 0 ("none sent") or into the pseudo-header sum goes through.
            const f = new DataView(flipped.buffer).getUint16(iph + at);
            if (!(family === 4 && proto === 'UDP' && f === 0) && f !== partialChecksum(flipped, family))
              expect(verify(flipped)).toBe(InnerChecksum.BAD);
            const partial = Uint8Array.from(pkt);
            setField(partial, family, at, partialChecksum(partial, family));
            expect(verify(partial)).toBe(InnerChecksum.PARTIAL);
          }),
        );
      });
    }
  }

  it('an IPv4 header whose checksum does not match is BAD, whatever follows', () => {
    const pkt = udp(4, new Uint8Array(100).fill(7));
    pkt[5] ^= 0x10; // identification
    expect(verify(pkt)).toBe(InnerChecksum.BAD);
  });

  it('IPv4 UDP without a checksum (0) is OK; ICMP is left to the kernel', () => {
    const pkt = udp(4, new Uint8Array(10).fill(1));
    setField(pkt, 4, 6, 0);
    expect(verify(pkt)).toBe(InnerChecksum.OK);
    const icmp = Uint8Array.from(pkt);
    icmp[9] = 1;
    icmp[10] = icmp[11] = 0;
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += (icmp[i] << 8) | icmp[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    new DataView(icmp.buffer).setUint16(10, ~s & 0xffff);
    expect(verify(icmp)).toBe(InnerChecksum.OK);
  });
});
