/**
 * The receive path defers GRO payload copies and runs them in one shim call per batch (sys/csum.ts copyRanges).
 * What reaches the TUN must be byte for byte what the copy-as-you-go coalescer writes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Coalescer } from '../../../dataplane/offload/gro.js';
import { copyRanges } from '../../../dataplane/sys/csum.js';
import { PacketBatch } from '../../../dataplane/sys/types.js';
import { buildTcp, ip4, ip6 } from '../packet/helpers.js';

const ACK = 0x10;
const PSH = 0x08;

/** Two interleaved flows of MSS-sized segments, each with an occasional PSH, laid out in one receive buffer. */
function wireOf(family: 4 | 6, payloads: Uint8Array[], mss: number): { buf: Uint8Array; pkts: Array<[number, number]> } {
  const src = family === 4 ? ip4('10.9.1.2') : ip6('fd00:9:1::2');
  const dst = family === 4 ? ip4('10.9.2.3') : ip6('fd00:9:2::3');
  const seqs = [1000, 900_000];
  const flows: Uint8Array[][] = [[], []];
  payloads.forEach((raw, k) => {
    // fast-check favours zero bytes; spread them so a payload that was never copied cannot look right.
    const p = raw.map((b, i) => (b + i * 31 + k + 1) & 0xff);
    const flow = k % 2;
    for (let o = 0; o < p.length; o += mss) {
      const piece = p.subarray(o, Math.min(p.length, o + mss));
      const last = o + mss >= p.length;
      flows[flow].push(
        buildTcp({
          family,
          src,
          dst,
          sport: 40000 + flow,
          dport: 5201,
          seq: seqs[flow],
          ack: 7,
          flags: ACK | (last ? PSH : 0),
          payload: piece,
        }),
      );
      seqs[flow] += piece.length;
    }
  });
  // Both flows open at once, each in order, as on a real receive batch.
  const pkts: Uint8Array[] = [];
  for (let k = 0; k < Math.max(flows[0].length, flows[1].length); k++)
    pkts.push(...[flows[0][k], flows[1][k]].filter((p) => p !== undefined));
  const buf = new Uint8Array(pkts.reduce((n, p) => n + p.length + 8, 0));
  const at: Array<[number, number]> = [];
  let off = 0;
  for (const p of pkts) {
    buf.set(p, off);
    at.push([off, p.length]);
    off += p.length + 8;
  }
  return { buf, pkts: at };
}

/** Feeds packets, emptying the batch whenever it is full, the way dataplane/rx.ts does; returns the TUN writes. */
function feed(c: Coalescer, buf: Uint8Array, pkts: Array<[number, number]>, separate: boolean): Buffer[] {
  const out = new PacketBatch(3, 70_000);
  const written: Buffer[] = [];
  const flush = (): void => {
    c.finish(out);
    for (let i = 0; i < out.count; i++) written.push(Buffer.from(out.buf.subarray(out.offsets[i], out.offsets[i] + out.lengths[i])));
    out.count = 0;
    c.reset();
  };
  for (const [off, len] of pkts) {
    const src = separate ? buf.slice(off, off + len) : buf;
    const o = separate ? 0 : off;
    if (!c.add(src, o, len, out)) {
      flush();
      expect(c.add(src, o, len, out)).toBe(true);
    }
  }
  flush();
  return written;
}

describe('Coalescer with deferred payload copies', () => {
  it('writes the same packets as copying at once, from one receive buffer or many', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<4 | 6>(4, 6),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 9000, size: 'max' }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 100, max: 1448 }),
        fc.boolean(),
        (family, payloads, mss, separate) => {
          const { buf, pkts } = wireOf(family, payloads, mss);
          const eager = feed(new Coalescer(), buf, pkts, separate);
          const deferred = feed(new Coalescer({ copier: copyRanges }), buf, pkts, separate);
          expect(deferred.length).toBe(eager.length);
          deferred.forEach((p, i) => expect(p.equals(eager[i])).toBe(true));
          // Coalescing happened wherever a message had more than one segment.
          const segments = payloads.reduce((n, p) => n + Math.ceil(p.length / mss), 0);
          if (segments > payloads.length) expect(eager.length).toBeLessThan(pkts.length);
          expect(pkts.length).toBe(segments);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('copyRanges refuses a range outside either buffer and copies nothing', () => {
    const src = Uint8Array.from([1, 2, 3, 4]);
    const dst = new Uint8Array(4);
    expect(() => copyRanges(src, dst, Int32Array.of(0, 0, 2, 3, 0, 2), 2)).toThrow(/outside its buffer/);
    expect(() => copyRanges(src, dst, Int32Array.of(0, 3, 2), 1)).toThrow(/outside its buffer/);
    expect([...dst]).toEqual([0, 0, 0, 0]);
    copyRanges(src, dst, Int32Array.of(2, 0, 2, 0, 2, 2), 2);
    expect([...dst]).toEqual([3, 4, 1, 2]);
  });
});
