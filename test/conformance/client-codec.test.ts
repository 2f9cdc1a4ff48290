/** Properties of the client's encoding: prefix range ends, base64 and int64 round-trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../control/etcd/index.js';
import { int64 } from '../../control/etcd/codec.js';

describe('client encoding', () => {
  it('prefixEnd(p) is above every key that starts with p and no higher than any key above them', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (p, suffix, other) => {
          const prefix = Buffer.from(p);
          const end = prefixEnd(prefix);
          if (prefix.every((b) => b === 0xff)) {
            expect(end).toEqual(Buffer.from([0])); // "all keys >= p"
            return;
          }
          const inside = Buffer.concat([prefix, Buffer.from(suffix)]);
          expect(Buffer.compare(inside, end)).toBe(-1);
          const o = Buffer.from(other);
          const startsWith = o.length >= prefix.length && o.subarray(0, prefix.length).equals(prefix);
          if (!startsWith && Buffer.compare(o, prefix) > 0) expect(Buffer.compare(o, end)).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('int64 strings beyond 2^53 decode exactly; omitted fields read as 0', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), (v) => {
        expect(int64(v.toString())).toBe(v);
      }),
    );
    expect([int64(undefined), int64(''), int64(7)]).toEqual([0n, 0n, 7n]);
  });
});
