import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { completeChecksum, maxSegmentLen, segmentCount, tsoSplit } from '../../../dataplane/offload/tso.js';
import { DropReason } from '../../../dataplane/packet/drops.js';
import { VirtioFlag, VirtioGso, VirtioHdr } from '../../../dataplane/packet/virtio.js';
import { buildTcp, buildUdp, ip4, ip6, ipv4HeaderValid, l4ChecksumValid, partialChecksum } from '../packet/helpers.js';

const A4 = ip4('10.5.1.2');
const B4 = ip4('10.5.2.3');
const A6 = ip6('fd00:5:1::2');
const B6 = ip6('fd00:5:2::3');
const TS_OPTS = Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
const MALFORMED = ~DropReason.MALFORMED_GSO;

function gsoHdr(family: 4 | 6, proto: 'tcp' | 'udp', mss: number, iph: number): VirtioHdr {
  const h = new VirtioHdr();
  h.flags = VirtioFlag.NEEDS_CSUM;
  h.gsoType = proto === 'udp' ? VirtioGso.UDP_L4 : family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6;
  h.gsoSize = mss;
  h.csumStart = iph;
  h.csumOffset = proto === 'udp' ? 6 : 16;
  h.hdrLen = 0xbeef; // never trusted
  return h;
}

/** A super-packet as the kernel hands it to a TUN: checksum field holds only the pseudo-header sum. */
function superTcp(family: 4 | 6, payload: Uint8Array, seq: number, flags: number, options?: Uint8Array): Uint8Array {
  const pkt = buildTcp({
    family,
    src: family === 4 ? A4 : A6,
    dst: family === 4 ? B4 : B6,
    sport: 40000,
    dport: 5201,
    seq,
    ack: 777,
    flags,
    payload,
    options,
    id: 0xfffe,
  });
  const iph = family === 4 ? 20 : 40;
  new DataView(pkt.buffer).setUint16(iph + 16, partialChecksum(pkt, family));
  return pkt;
}

function split(pkt: Uint8Array, hdr: VirtioHdr, headroom = 46) {
  const stride = headroom + maxSegmentLen(pkt, 0, pkt.length, hdr);
  const n = segmentCount(pkt, 0, pkt.length, hdr);
  const out = new Uint8Array(stride * Math.max(n, 1) + 16);
  const lengths = new Int32Array(128);
  const got = tsoSplit(pkt, 0, pkt.length, hdr, { out, outOff: 0, stride, headroom, maxSegs: 128, lengths });
  const segs: Uint8Array[] = [];
  for (let k = 0; k < got; k++) segs.push(out.slice(k * stride + headroom, k * stride + headroom + lengths[k]));
  return { got, n, segs };
}

describe('tsoSplit', () => {
  it('splits an IPv4 TCP super-packet like the kernel: ids, lengths, seq, flags, checksums', () => {
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const pkt = superTcp(4, payload, 0xfffffc00, 0x18 | 0x01, TS_OPTS); // ACK|PSH|FIN, seq wraps
    const { got, segs } = split(pkt, gsoHdr(4, 'tcp', 1448, 20));
    expect(got).toBe(3);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
    segs.forEach((s, k) => {
      const last = k === 2;
      expect(s.length).toBe(20 + 32 + (last ? 3000 - 2 * 1448 : 1448));
      expect(dv(s).getUint16(2)).toBe(s.length);
      expect(dv(s).getUint16(4)).toBe((0xfffe + k) & 0xffff);
      expect(dv(s).getUint32(24)).toBe((0xfffffc00 + k * 1448) >>> 0);
      expect(s[33]).toBe(last ? 0x19 : 0x10);
      expect([...s.subarray(40, 52)]).toEqual([...TS_OPTS]);
      expect([...s.subarray(52)]).toEqual([...payload.subarray(k * 1448, k * 1448 + s.length - 52)]);
      expect(ipv4HeaderValid(s)).toBe(true);
      expect(l4ChecksumValid(s, 4)).toBe(true);
    });
  });

  it('splits IPv6 TCP and clears CWR after the first segment', () => {
    const pkt = superTcp(6, new Uint8Array(2500).fill(7), 1, 0x10 | 0x80);
    const { got, segs } = split(pkt, gsoHdr(6, 'tcp', 1000, 40));
    expect(got).toBe(3);
    expect(segs.map((s) => s[40 + 13])).toEqual([0x90, 0x10, 0x10]);
    expect(segs.map((s) => new DataView(s.buffer).getUint16(4))).toEqual([1020, 1020, 520]);
    for (const s of segs) expect(l4ChecksumValid(s, 6)).toBe(true);
  });

  it.each([4, 6] as const)('splits UDP (USO) over IPv%i with UDP lengths and checksums', (family) => {
    const payload = Uint8Array.from({ length: 4001 }, (_, i) => (i * 13) & 0xff);
    const pkt = buildUdp(family, family === 4 ? A4 : A6, family === 4 ? B4 : B6, 1234, 4321, payload);
    const iph = family === 4 ? 20 : 40;
    const { got, segs } = split(pkt, gsoHdr(family, 'udp', 1200, iph));
    expect(got).toBe(4);
    segs.forEach((s, k) => {
      expect(new DataView(s.buffer).getUint16(iph + 4)).toBe(s.length - iph);
      expect([...s.subarray(iph + 8)]).toEqual([...payload.subarray(k * 1200, k * 1200 + s.length - iph - 8)]);
      expect(l4ChecksumValid(s, family)).toBe(true);
      if (family === 4) expect(ipv4HeaderValid(s)).toBe(true);
    });
  });

  it('copies gso_type NONE as one packet and completes its checksum', () => {
    const pkt = superTcp(4, new Uint8Array(100).fill(1), 5, 0x18);
    const hdr = gsoHdr(4, 'tcp', 0, 20);
    hdr.gsoType = VirtioGso.NONE;
    const { got, segs } = split(pkt, hdr);
    expect(got).toBe(1);
    expect(l4ChecksumValid(segs[0], 4)).toBe(true);
  });

  // biome-ignore lint/suspicious/noConfusingVoidType: a mutation returns the length to cut the packet to, or nothing
  it.each<[string, (h: VirtioHdr, p: Uint8Array) => number | void]>([
    [
      'UFO (gso UDP) is refused',
      (h) => {
        h.gsoType = VirtioGso.UDP;
      },
    ],
    [
      'family mismatch',
      (h) => {
        h.gsoType = VirtioGso.TCPV6;
      },
    ],
    [
      'csum_start past the IP header',
      (h) => {
        h.csumStart = 24;
      },
    ],
    [
      'csum_offset not 16',
      (h) => {
        h.csumOffset = 6;
      },
    ],
    [
      'gso_size 0',
      (h) => {
        h.gsoSize = 0;
      },
    ],
    [
      'TCP data offset < 5',
      (_h, p) => {
        p[32] = 0x40;
      },
    ],
    [
      'TCP header past the end',
      (_h, p) => {
        p[32] = 0xf0;
        return 50;
      },
    ],
    ['a packet ending inside the TCP header', () => 32],
    [
      'more than maxSegs segments',
      (h) => {
        h.gsoSize = 1;
      },
    ],
  ])('refuses a malformed packet: %s', (_name, mutate) => {
    const pkt = superTcp(4, new Uint8Array(200), 1, 0x10);
    const hdr = gsoHdr(4, 'tcp', 100, 20);
    const len = mutate(hdr, pkt) ?? pkt.length;
    const out = new Uint8Array(1 << 16);
    expect(
      tsoSplit(pkt.slice(0, len), 0, len, hdr, { out, outOff: 0, stride: 1600, headroom: 0, maxSegs: 128, lengths: new Int32Array(128) }),
    ).toBe(MALFORMED);
  });

  it('refuses when the stride or the output buffer is too small', () => {
    const pkt = superTcp(4, new Uint8Array(3000), 1, 0x10);
    const hdr = gsoHdr(4, 'tcp', 1000, 20);
    expect(
      tsoSplit(pkt, 0, pkt.length, hdr, {
        out: new Uint8Array(8000),
        outOff: 0,
        stride: 1039,
        headroom: 0,
        maxSegs: 64,
        lengths: new Int32Array(64),
      }),
    ).toBe(MALFORMED);
    expect(
      tsoSplit(pkt, 0, pkt.length, hdr, {
        out: new Uint8Array(2500),
        outOff: 0,
        stride: 1040,
        headroom: 0,
        maxSegs: 64,
        lengths: new Int32Array(64),
      }),
    ).toBe(MALFORMED);
    expect(
      tsoSplit(pkt, 0, pkt.length, hdr, {
        out: new Uint8Array(2080 + 1040),
        outOff: 0,
        stride: 1040,
        headroom: 0,
        maxSegs: 64,
        lengths: new Int32Array(64),
      }),
    ).toBe(3);
  });

  it('never throws on random bytes and headers, and stays inside its output', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600, size: 'max' }),
        fc.record({
          flags: fc.nat(255),
          gsoType: fc.constantFrom(0, 1, 3, 4, 5, 0x81, 7),
          gsoSize: fc.nat(700),
          csumStart: fc.nat(80),
          csumOffset: fc.constantFrom(6, 16, 0, 500),
        }),
        (bytes, h) => {
          if (bytes.length > 0) bytes[0] = (bytes[0] & 0x0f) | (bytes[0] & 1 ? 0x40 : 0x60);
          const hdr = Object.assign(new VirtioHdr(), h);
          const out = new Uint8Array(4096);
          const lengths = new Int32Array(8);
          const n = tsoSplit(bytes, 0, bytes.length, hdr, { out, outOff: 0, stride: 1024, headroom: 32, maxSegs: 4, lengths });
          expect(Number.isInteger(n) && (n < 0 || (n >= 1 && n <= 4))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('completeChecksum', () => {
  it.each([4, 6] as const)('finishes a CHECKSUM_PARTIAL TCP packet over IPv%i', (family) => {
    const pkt = superTcp(
      family,
      Uint8Array.from({ length: 333 }, (_, i) => i),
      9,
      0x18,
    );
    const hdr = gsoHdr(family, 'tcp', 0, family === 4 ? 20 : 40);
    hdr.gsoType = VirtioGso.NONE;
    expect(l4ChecksumValid(pkt, family)).toBe(false);
    expect(completeChecksum(pkt, 0, pkt.length, hdr)).toBe(true);
    expect(l4ChecksumValid(pkt, family)).toBe(true);
  });

  it('refuses a csum position outside the packet', () => {
    const hdr = new VirtioHdr();
    hdr.csumStart = 30;
    hdr.csumOffset = 16;
    expect(completeChecksum(new Uint8Array(40), 0, 40, hdr)).toBe(false);
  });
});
