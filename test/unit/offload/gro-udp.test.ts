/** UDP coalescing (for a TUN that takes USO): a USO split coalesced again gives the original packet back. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Coalescer } from '../../../dataplane/offload/gro.js';
import { maxSegmentLen, tsoSplit } from '../../../dataplane/offload/tso.js';
import { PacketBatch } from '../../../dataplane/sys/types.js';
import { readVirtioHdr, VirtioFlag, VirtioGso, VirtioHdr } from '../../../dataplane/packet/virtio.js';
import { buildUdp, ip4, ip6, partialChecksum } from '../packet/helpers.js';

const A4 = ip4('10.5.1.2');
const B4 = ip4('10.5.2.3');
const A6 = ip6('fd00:5:1::2');
const B6 = ip6('fd00:5:2::3');

function coalesce(pkts: Uint8Array[], c = new Coalescer({ udp: true })): { hdr: VirtioHdr; pkt: Uint8Array }[] {
  const out = new PacketBatch(8, 70_000);
  for (const p of pkts) expect(c.add(p, 0, p.length, out)).toBe(true);
  c.finish(out);
  return Array.from({ length: out.count }, (_, i) => ({
    hdr: readVirtioHdr(out.buf, out.offsets[i], new VirtioHdr()),
    pkt: Uint8Array.from(out.buf.subarray(out.offsets[i] + 10, out.offsets[i] + out.lengths[i])),
  }));
}

const datagram = (family: 4 | 6, sport: number, len: number, fill = 1) =>
  buildUdp(family, family === 4 ? A4 : A6, family === 4 ? B4 : B6, sport, 4433, new Uint8Array(len).fill(fill));

describe('Coalescer with udp: USO split then coalesce is the identity', () => {
  it('on random datagram trains over IPv4 and IPv6', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<4 | 6>(4, 6),
        fc.integer({ min: 1, max: 1472 }),
        fc.uint8Array({ minLength: 1, maxLength: 30_000, size: 'max' }),
        (family, mss, raw) => {
          const payload = raw.subarray(0, Math.min(raw.length, mss * 64));
          const iph = family === 4 ? 20 : 40;
          const orig = buildUdp(family, family === 4 ? A4 : A6, family === 4 ? B4 : B6, 5000, 4433, payload);
          new DataView(orig.buffer).setUint16(iph + 6, partialChecksum(orig, family));
          const hdr = Object.assign(new VirtioHdr(), {
            flags: VirtioFlag.NEEDS_CSUM,
            gsoType: VirtioGso.UDP_L4,
            gsoSize: mss,
            csumStart: iph,
            csumOffset: 6,
          });
          const stride = maxSegmentLen(orig, 0, orig.length, hdr);
          const wire = new Uint8Array(stride * 64);
          const lengths = new Int32Array(64);
          const n = tsoSplit(orig, 0, orig.length, hdr, { out: wire, outOff: 0, stride, headroom: 0, maxSegs: 64, lengths });
          expect(n).toBe(Math.ceil(payload.length / mss));
          const segs = Array.from({ length: n }, (_, k) => wire.slice(k * stride, k * stride + lengths[k]));
          const got = coalesce(segs);
          expect(got.length).toBe(1);
          if (n === 1) {
            expect(got[0]).toEqual({ hdr: new VirtioHdr(), pkt: segs[0] });
            return;
          }
          expect(got[0].hdr).toEqual(
            Object.assign(new VirtioHdr(), {
              flags: 1,
              gsoType: VirtioGso.UDP_L4,
              hdrLen: iph + 8,
              gsoSize: mss,
              csumStart: iph,
              csumOffset: 6,
            }),
          );
          expect(got[0].pkt).toEqual(orig);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('Coalescer with udp: what it keeps apart', () => {
  it('leaves UDP alone unless asked (a TUN without USO)', () => {
    expect(coalesce([datagram(4, 1, 100), datagram(4, 1, 100)], new Coalescer()).length).toBe(2);
  });

  it('keeps flows apart, ends a run at a shorter datagram, and never grows past 64 datagrams', () => {
    const got = coalesce([datagram(4, 1, 100), datagram(4, 2, 100), datagram(4, 1, 100), datagram(4, 1, 60), datagram(4, 1, 100)]);
    expect(got.map((g) => [g.hdr.gsoType, g.pkt.length])).toEqual([
      [VirtioGso.UDP_L4, 20 + 8 + 260],
      [0, 128],
      [0, 128],
    ]);
    const many = coalesce(Array.from({ length: 70 }, () => datagram(6, 9, 20)));
    expect(many.map((g) => g.pkt.length)).toEqual([40 + 8 + 64 * 20, 40 + 8 + 6 * 20]);
    expect(many[1].hdr.gsoSize).toBe(20);
  });

  it('does not merge a larger datagram into a run, nor datagrams whose IP fields differ', () => {
    const ttl = datagram(4, 1, 100);
    ttl[8] = 3;
    ttl[10] = ttl[11] = 0; // header checksum is not what the coalescer looks at
    const got = coalesce([datagram(4, 1, 100), datagram(4, 1, 200), ttl]);
    expect(got.length).toBe(3);
  });

  it('keeps the order of a flow: an empty datagram ends the run before it', () => {
    const got = coalesce([datagram(4, 1, 100, 1), datagram(4, 1, 0), datagram(4, 1, 100, 3), datagram(4, 1, 100, 4)]);
    expect(got.map((g) => [g.pkt.length, g.pkt[28]])).toEqual([
      [128, 1],
      [28, undefined],
      [228, 3],
    ]);
  });
});
