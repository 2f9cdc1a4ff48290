/** The shim's segment copy and batch checksum (sys/csum.ts) give split segments exactly as the TypeScript path does. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { maxSegmentLen, tsoSplit } from '../../../dataplane/offload/tso.js';
import { copySegments, finishSegmentChecksums } from '../../../dataplane/sys/csum.js';
import { VirtioFlag, VirtioGso, VirtioHdr } from '../../../dataplane/packet/virtio.js';
import { buildTcp, buildUdp, ip4, ip6, partialChecksum } from '../packet/helpers.js';

function hdrFor(family: 4 | 6, udp: boolean, mss: number): VirtioHdr {
  const h = new VirtioHdr();
  h.flags = VirtioFlag.NEEDS_CSUM;
  h.gsoType = udp ? VirtioGso.UDP_L4 : family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6;
  h.gsoSize = mss;
  h.csumStart = family === 4 ? 20 : 40;
  h.csumOffset = udp ? 6 : 16;
  return h;
}

describe('native segment checksums', () => {
  it('partial split + finishSegmentChecksums gives the same bytes as the full TypeScript split', () => {
    let multi = 0;
    const runs = 150;
    fc.assert(
      fc.property(
        fc.constantFrom(4, 6),
        fc.boolean(),
        fc.integer({ min: 1, max: 1500 }),
        fc.uint8Array({ minLength: 2, maxLength: 20_000, size: 'max' }),
        fc.integer({ min: 0, max: 7 }),
        (family: 4 | 6, udp, mssDraw, payload, headroom) => {
          // At most 1100 segments (the output buffers below); a small mss on a long payload is raised to fit.
          const mss = Math.max(mssDraw, Math.ceil(payload.length / 1100));
          const src = family === 4 ? ip4('10.1.0.1') : ip6('fd00::1');
          const dst = family === 4 ? ip4('10.2.0.1') : ip6('fd00::2');
          const pkt = udp
            ? buildUdp(family, src, dst, 1000, 2000, payload)
            : buildTcp({ family, src, dst, sport: 1, dport: 2, seq: 7, ack: 9, flags: 0x18, payload });
          const iph = family === 4 ? 20 : 40;
          new DataView(pkt.buffer).setUint16(iph + (udp ? 6 : 16), partialChecksum(pkt, family));
          const hdr = hdrFor(family, udp, mss);
          const stride = 22 + headroom + maxSegmentLen(pkt, 0, pkt.length, hdr);
          const outA = new Uint8Array(stride * 1100);
          const outB = new Uint8Array(stride * 1100);
          const lenA = new Int32Array(1100);
          const lenB = new Int32Array(1100);
          const outC = new Uint8Array(stride * 1100);
          const lenC = new Int32Array(1100);
          const n = tsoSplit(pkt, 0, pkt.length, hdr, {
            out: outA,
            outOff: 0,
            stride,
            headroom: 22 + headroom,
            maxSegs: 1100,
            lengths: lenA,
          });
          const m = tsoSplit(pkt, 0, pkt.length, hdr, {
            out: outB,
            outOff: 0,
            stride,
            headroom: 22 + headroom,
            maxSegs: 1100,
            lengths: lenB,
            partialChecksums: true,
          });
          expect(n).toBeGreaterThanOrEqual(1);
          expect(m).toBe(n);
          if (n >= 2) multi++;
          finishSegmentChecksums(outB, 22 + headroom, stride, m, iph, udp ? 6 : 16, lenB, udp);
          expect(Buffer.from(outB).equals(Buffer.from(outA))).toBe(true);
          // The path dataplane/tx.ts takes: bytes laid out by the shim, fields fixed in TypeScript, sums in the shim.
          const hdrLen = maxSegmentLen(pkt, 0, pkt.length, hdr) - mss;
          expect(copySegments(pkt, 0, pkt.length, hdrLen, mss, outC, 22 + headroom, stride)).toBe(n);
          expect(
            tsoSplit(pkt, 0, pkt.length, hdr, {
              out: outC,
              outOff: 0,
              stride,
              headroom: 22 + headroom,
              maxSegs: 1100,
              lengths: lenC,
              partialChecksums: true,
              segmentsCopied: true,
            }),
          ).toBe(n);
          finishSegmentChecksums(outC, 22 + headroom, stride, n, iph, udp ? 6 : 16, lenC, udp);
          expect(Buffer.from(outC).equals(Buffer.from(outA))).toBe(true);
        },
      ),
      { numRuns: runs },
    );
    // The point of the property is the multi-segment path (native copy + batch sums); most runs must take it.
    expect(multi).toBeGreaterThan(runs * 0.6);
  });

  it('refuses a segment outside the buffer instead of touching other memory', () => {
    expect(() => finishSegmentChecksums(new Uint8Array(100), 0, 100, 2, 20, 16, Int32Array.of(60, 60), false)).toThrow(
      /outside the buffer/,
    );
    const out = new Uint8Array(300);
    // 40 header + 400 payload at gso 100: 4 segments of stride 150 need 490 bytes, not 300.
    expect(() => copySegments(new Uint8Array(440), 0, 440, 40, 100, out, 0, 150)).toThrow(/outside their buffers/);
    expect(() => copySegments(new Uint8Array(400), 0, 440, 40, 100, new Uint8Array(1000), 0, 150)).toThrow(/outside their buffers/);
    expect(out.every((b) => b === 0)).toBe(true);
  });
});
