import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Coalescer } from '../../../dataplane/offload/gro.js';
import { maxSegmentLen, tsoSplit } from '../../../dataplane/offload/tso.js';
import { PacketBatch } from '../../../dataplane/sys/types.js';
import { readVirtioHdr, VirtioGso, VirtioHdr } from '../../../dataplane/packet/virtio.js';
import { buildTcp, buildUdp, ip4, ip6, ipv4HeaderValid, l4ChecksumValid, partialChecksum, TcpSpec } from '../packet/helpers.js';

const A4 = ip4('10.5.1.2');
const B4 = ip4('10.5.2.3');
const A6 = ip6('fd00:5:1::2');
const B6 = ip6('fd00:5:2::3');
const ACK = 0x10;
const PSH = 0x08;

function seg(over: Partial<TcpSpec> & { payload: Uint8Array }): Uint8Array {
  return buildTcp({ family: 4, src: A4, dst: B4, sport: 40000, dport: 5201, seq: 1000, ack: 1, flags: ACK, ...over });
}

function packetOf(out: PacketBatch, i: number): { hdr: VirtioHdr; pkt: Uint8Array } {
  const hdr = readVirtioHdr(out.buf, out.offsets[i], new VirtioHdr());
  return { hdr, pkt: Uint8Array.from(out.buf.subarray(out.offsets[i] + 10, out.offsets[i] + out.lengths[i])) };
}

function run(pkts: Uint8Array[], batch = new PacketBatch(16, 70000), c = new Coalescer()): PacketBatch {
  for (const p of pkts) expect(c.add(p, 0, p.length, batch)).toBe(true);
  c.finish(batch);
  return batch;
}

describe('Coalescer: TSO split then GRO coalesce is the identity', () => {
  it('on random TCP streams over IPv4 and IPv6', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<4 | 6>(4, 6),
        fc.uint8Array({ minLength: 1, maxLength: 40000, size: 'max' }),
        fc.integer({ min: 400, max: 9000 }),
        fc.nat(0xffffffff),
        fc.boolean(),
        fc.boolean(),
        (family, payload, mss, seq, psh, withOpts) => {
          const opts = withOpts ? Uint8Array.from([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]) : undefined;
          const iph = family === 4 ? 20 : 40;
          const thl = 20 + (opts?.length ?? 0);
          const orig = buildTcp({
            family,
            src: family === 4 ? A4 : A6,
            dst: family === 4 ? B4 : B6,
            sport: 33000,
            dport: 22,
            seq,
            ack: 99,
            flags: ACK | (psh ? PSH : 0),
            payload,
            options: opts,
            id: 4242,
          });
          new DataView(orig.buffer).setUint16(iph + 16, partialChecksum(orig, family));
          const hdr = new VirtioHdr();
          Object.assign(hdr, {
            flags: 1,
            gsoType: family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6,
            hdrLen: 0,
            gsoSize: mss,
            csumStart: iph,
            csumOffset: 16,
          });
          const stride = 32 + maxSegmentLen(orig, 0, orig.length, hdr);
          const wire = new Uint8Array(stride * 128);
          const lengths = new Int32Array(128);
          const n = tsoSplit(orig, 0, orig.length, hdr, { out: wire, outOff: 0, stride, headroom: 32, maxSegs: 128, lengths });
          expect(n).toBe(Math.ceil(payload.length / mss));
          const segs = Array.from({ length: n }, (_, k) => wire.subarray(k * stride + 32, k * stride + 32 + lengths[k]));
          for (const s of segs) {
            expect(l4ChecksumValid(s, family)).toBe(true);
            if (family === 4) expect(ipv4HeaderValid(s)).toBe(true);
          }
          const out = run(segs, new PacketBatch(4, 70000), new Coalescer());
          expect(out.count).toBe(1);
          const { hdr: got, pkt } = packetOf(out, 0);
          if (n === 1) {
            expect(got).toEqual(new VirtioHdr());
            expect(pkt).toEqual(Uint8Array.from(segs[0]));
            return;
          }
          expect(got).toEqual(
            Object.assign(new VirtioHdr(), {
              flags: 1,
              gsoType: hdr.gsoType,
              hdrLen: iph + thl,
              gsoSize: mss,
              csumStart: iph,
              csumOffset: 16,
            }),
          );
          expect(pkt).toEqual(orig);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('Coalescer: GRO coalesce then TSO split gives back the segments', () => {
  it('byte for byte, on random in-order segment trains', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<4 | 6>(4, 6),
        fc.integer({ min: 1, max: 1460 }),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 1, max: 1460 }),
        fc.nat(0xffffffff),
        fc.boolean(),
        (family, mss, count, lastLen, seq0, psh) => {
          const segs = Array.from({ length: count }, (_, k) => {
            const last = k === count - 1;
            const payload = Uint8Array.from({ length: last ? Math.min(lastLen, mss) : mss }, (_, i) => (i * 7 + k) & 0xff);
            return buildTcp({
              family,
              src: family === 4 ? A4 : A6,
              dst: family === 4 ? B4 : B6,
              sport: 5,
              dport: 6,
              seq: (seq0 + k * mss) >>> 0,
              ack: 1,
              flags: ACK | (last && psh ? PSH : 0),
              payload,
              id: (65530 + k) & 0xffff,
            });
          });
          const out = run(segs, new PacketBatch(2, 70000));
          expect(out.count).toBe(1);
          const { hdr, pkt } = packetOf(out, 0);
          const stride = maxSegmentLen(pkt, 0, pkt.length, hdr);
          const wire = new Uint8Array(stride * count);
          const lengths = new Int32Array(count);
          expect(tsoSplit(pkt, 0, pkt.length, hdr, { out: wire, outOff: 0, stride, headroom: 0, maxSegs: count, lengths })).toBe(count);
          segs.forEach((sg, k) => expect(wire.subarray(k * stride, k * stride + lengths[k])).toEqual(sg));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('Coalescer rules', () => {
  const p = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

  it('keeps two interleaved flows apart and merges each', () => {
    const a = [seg({ payload: p(100), seq: 0 }), seg({ payload: p(100), seq: 100 })];
    const b = [seg({ payload: p(50), seq: 7, sport: 1 }), seg({ payload: p(50), seq: 57, sport: 1 })];
    const out = run([a[0], b[0], a[1], b[1]]);
    expect(out.count).toBe(2);
    expect(out.lengths[0]).toBe(10 + 40 + 200);
    expect(out.lengths[1]).toBe(10 + 40 + 100);
  });

  it.each<[string, Uint8Array[], number]>([
    ['different ACK', [seg({ payload: p(100) }), seg({ payload: p(100), seq: 1100, ack: 2 })], 2],
    ['a gap in sequence numbers', [seg({ payload: p(100) }), seg({ payload: p(100), seq: 1101 })], 2],
    ['a different TTL', [seg({ payload: p(100) }), seg({ payload: p(100), seq: 1100, ttl: 3 })], 2],
    ['a larger segment after a smaller one', [seg({ payload: p(100) }), seg({ payload: p(200), seq: 1100 })], 2],
    [
      'anything after a short segment',
      [seg({ payload: p(100) }), seg({ payload: p(50), seq: 1100 }), seg({ payload: p(50), seq: 1150 })],
      2,
    ],
    ['anything after PSH', [seg({ payload: p(100), flags: ACK | PSH }), seg({ payload: p(100), seq: 1100 })], 2],
    ['different TCP options', [seg({ payload: p(100), options: p(4, 1) }), seg({ payload: p(100), seq: 1100, options: p(4, 2) })], 2],
    ['a pure ACK', [seg({ payload: p(0) }), seg({ payload: p(0) })], 2],
    ['SYN', [seg({ payload: p(100), flags: 0x12 }), seg({ payload: p(100), seq: 1100 })], 2],
    [
      'data after a FIN of the same flow is not moved before it',
      [seg({ payload: p(100) }), seg({ payload: p(10), seq: 1100, flags: 0x11 }), seg({ payload: p(100), seq: 1100 })],
      3,
    ],
    [
      'PSH closes the merged packet',
      [seg({ payload: p(100) }), seg({ payload: p(100), seq: 1100, flags: ACK | PSH }), seg({ payload: p(100), seq: 1200 })],
      2,
    ],
  ])('does not merge across %s', (_name, pkts, count) => {
    expect(run(pkts).count).toBe(count);
  });

  it('sets PSH on the merged packet when its last segment had it', () => {
    const out = run([seg({ payload: p(100) }), seg({ payload: p(100), seq: 1100, flags: ACK | PSH })]);
    expect(packetOf(out, 0).pkt[33]).toBe(ACK | PSH);
  });

  it('by default merges segments whose inner checksum is only the pseudo-header sum (kernel peers over veth)', () => {
    const partial = (seq: number) => {
      const q = seg({ payload: p(100), seq });
      new DataView(q.buffer).setUint16(36, partialChecksum(q, 4));
      return q;
    };
    expect(run([partial(1000), partial(1100)]).count).toBe(1);
  });

  it('stops at 65535 bytes of IP packet', () => {
    const pkts = Array.from({ length: 50 }, (_, k) => seg({ payload: p(1400), seq: 1000 + k * 1400 }));
    const out = run(pkts);
    expect(out.count).toBe(2);
    expect(out.lengths[0] - 10).toBeLessThanOrEqual(65535);
    expect(out.lengths[0] - 10 + out.lengths[1] - 10).toBe(40 * 2 + 50 * 1400);
    expect(ipv4HeaderValid(packetOf(out, 0).pkt)).toBe(true);
  });

  it('does not merge IPv4 with options or fragments', () => {
    const withOpts = (s: number) => {
      const q = seg({ payload: p(100), seq: s });
      const r = new Uint8Array(q.length + 4);
      r.set(q.subarray(0, 20));
      r.set(q.subarray(20), 24);
      r[0] = 0x46;
      new DataView(r.buffer).setUint16(2, r.length);
      return r;
    };
    expect(run([withOpts(1000), withOpts(1100)]).count).toBe(2);
    const frag = (s: number) => {
      const q = seg({ payload: p(100), seq: s });
      q[6] = 0x20;
      return q;
    };
    expect(run([frag(1000), frag(1100)]).count).toBe(2);
  });

  it('passes UDP and non-IP bytes through with an all-zero header', () => {
    const u = buildUdp(6, A6, B6, 1, 2, p(30));
    const junk = Uint8Array.from([1, 2, 3]);
    const out = run([u, junk]);
    expect(out.count).toBe(2);
    expect(packetOf(out, 0)).toEqual({ hdr: new VirtioHdr(), pkt: u });
    expect(packetOf(out, 1).pkt).toEqual(junk);
  });

  it('returns false when the batch is full, and goes on after finish and a reset batch', () => {
    const c = new Coalescer();
    const out = new PacketBatch(2, 2048);
    const f = (sport: number, seq = 1000) => seg({ payload: p(10), sport, seq });
    const add = (q: Uint8Array) => c.add(q, 0, q.length, out);
    expect(add(f(1))).toBe(true);
    expect(add(f(2))).toBe(true);
    expect(add(f(1, 1010))).toBe(true); // merges, needs no slot
    expect(add(f(3))).toBe(false);
    expect(out.count).toBe(2);
    c.finish(out);
    expect(packetOf(out, 0).hdr.gsoSize).toBe(10);
    out.count = 0;
    expect(add(f(3))).toBe(true);
    expect(add(f(1, 1020))).toBe(true);
    expect(out.count).toBe(2);
  });

  it('counts and drops a packet larger than a slot', () => {
    const c = new Coalescer();
    const out = new PacketBatch(2, 100);
    const big = seg({ payload: p(200) });
    expect(c.add(big, 0, big.length, out)).toBe(true);
    expect(out.count).toBe(0);
    expect(c.oversize).toBe(1);
  });

  it('never throws on random bytes, and every length stays inside its slot', () => {
    const c = new Coalescer({ maxFlows: 4 });
    const out = new PacketBatch(8, 4096);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 20 }), (pkts) => {
        // Every batch handed on is checked, also the ones flushed because the output filled up mid-loop.
        const checkBatch = (): void => {
          for (let i = 0; i < out.count; i++) expect(out.lengths[i]).toBeLessThanOrEqual(out.slotSize);
          out.count = 0;
        };
        out.count = 0;
        for (const b of pkts) {
          if (b.length > 0) b[0] = (b[0] & 0x0f) | (b[0] & 1 ? 0x40 : 0x60);
          if (b.length > 9) b[9] = 6;
          if (!c.add(b, 0, b.length, out)) {
            c.finish(out);
            checkBatch();
          }
        }
        c.finish(out);
        checkBatch();
      }),
      { numRuns: 500 },
    );
  });
});

describe('Coalescer: a TCP packet larger than the overlay MTU (a same-machine kernel peer sent it unsplit)', () => {
  for (const family of [4, 6] as const) {
    it(`is written as a TCP GSO packet of MTU-sized segments (IPv${family}), not as one packet no link can carry`, () => {
      const mtu = 1450;
      const payload = Uint8Array.from({ length: 7000 }, (_, i) => i & 0xff);
      const big = buildTcp({
        family,
        src: family === 4 ? A4 : A6,
        dst: family === 4 ? B4 : B6,
        sport: 40000,
        dport: 5201,
        seq: 77,
        ack: 1,
        flags: ACK | PSH,
        payload,
      });
      const out = run([big], new PacketBatch(4, 70000), new Coalescer({ mtu }));
      expect(out.count).toBe(1);
      const { hdr, pkt } = packetOf(out, 0);
      const iph = family === 4 ? 20 : 40;
      expect(hdr.gsoType).toBe(family === 4 ? VirtioGso.TCPV4 : VirtioGso.TCPV6);
      expect(hdr.gsoSize).toBe(mtu - iph - 20);
      expect(hdr.hdrLen).toBe(iph + 20);
      expect(Buffer.from(pkt.subarray(iph + 20)).equals(Buffer.from(payload))).toBe(true);
      if (family === 4) expect(ipv4HeaderValid(pkt)).toBe(true);
    });
  }

  it('keeps FIN on a super-packet that ends the stream (the kernel sets it on the last segment only)', () => {
    const big = seg({ payload: new Uint8Array(5000), flags: ACK | PSH | 0x01 });
    const out = run([big], new PacketBatch(4, 70000), new Coalescer({ mtu: 1450 }));
    const { hdr, pkt } = packetOf(out, 0);
    expect(hdr.gsoType).toBe(VirtioGso.TCPV4);
    expect(hdr.gsoSize).toBe(1410);
    expect(pkt[20 + 13]).toBe(ACK | PSH | 0x01);
  });

  it('leaves a packet that fits the MTU alone', () => {
    const small = seg({ payload: new Uint8Array(1000), flags: ACK | PSH });
    const out = run([small], new PacketBatch(4, 70000), new Coalescer({ mtu: 1450 }));
    expect(packetOf(out, 0).hdr.gsoType).toBe(VirtioGso.NONE);
  });
});
