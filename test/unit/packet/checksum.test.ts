import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checksum, fold, pseudoHeaderSum, sumBytes } from '../../../dataplane/packet/checksum.js';
import { hex, naiveChecksum } from './helpers.js';

describe('checksum', () => {
  it.each([
    // RFC 1071 §3 example: sum 0x2ddf0 folds to 0xddf2.
    ['0001f203f4f5f6f7', 0x220d],
    // The IPv4 header example with its checksum zeroed (b861 is what it carries on the wire).
    ['450000730000400040110000c0a80001c0a800c7', 0xb861],
    ['', 0xffff],
    ['ff', 0x00ff],
    ['0001', 0xfffe],
  ])('checksum(%s) = %s', (h, want) => {
    const b = hex(h);
    expect(checksum(b, 0, b.length)).toBe(want);
  });

  it('RFC 1071 example folds to 0xddf2', () => {
    expect(fold(sumBytes(hex('0001f203f4f5f6f7'), 0, 8))).toBe(0xddf2);
  });

  it('a header that carries its checksum sums to 0', () => {
    const b = hex('45000073000040004011b861c0a80001c0a800c7');
    expect(checksum(b, 0, b.length)).toBe(0);
  });

  it('matches a naive RFC 1071 sum at every offset, length and buffer alignment', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000, size: 'max' }),
        fc.nat(7),
        fc.nat(300),
        fc.nat(3000),
        fc.nat(0xffff),
        (bytes, shift, off, want, initial) => {
          // A Buffer at an odd byteOffset inside a larger ArrayBuffer exercises every alignment.
          const ab = new ArrayBuffer(bytes.length + 8);
          const view = new Uint8Array(ab, shift, bytes.length);
          view.set(bytes);
          const start = Math.min(off, bytes.length);
          const len = Math.min(want, bytes.length - start);
          expect(checksum(view, start, len, initial)).toBe(naiveChecksum(view, start, len, initial));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('stays exact over 64 KB of 0xff (largest carries)', () => {
    const b = new Uint8Array(65536 + 7).fill(0xff);
    for (const off of [0, 1, 2, 3]) expect(checksum(b, off, 65536)).toBe(naiveChecksum(b, off, 65536));
  });

  it('sums chain: sumBytes(b) = sumBytes(second half, sumBytes(first half)) for even splits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 2000, size: 'max' }), fc.nat(), (b, at) => {
        const cut = (at % b.length) & ~1;
        const chained = sumBytes(b, cut, b.length - cut, sumBytes(b, 0, cut));
        expect(fold(chained)).toBe(fold(sumBytes(b, 0, b.length)));
      }),
      { numRuns: 200 },
    );
  });

  it('pseudo-header sums match a built pseudo-header (IPv4 and IPv6)', () => {
    const v4 = hex('4500003c000040004006 0000 0a050100 0a050201');
    const ps4 = hex('0a050100 0a050201 0006 0028');
    expect(fold(pseudoHeaderSum(v4, 0, 4, 6, 40))).toBe(~naiveChecksum(ps4, 0, ps4.length) & 0xffff);
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    for (let i = 8; i < 40; i++) v6[i] = i * 7;
    const ps6 = new Uint8Array(40);
    ps6.set(v6.subarray(8, 40), 0);
    ps6[34] = 0x05;
    ps6[35] = 0xdc;
    ps6[39] = 17;
    expect(fold(pseudoHeaderSum(v6, 0, 6, 17, 1500))).toBe(~naiveChecksum(ps6, 0, 40) & 0xffff);
  });
});
