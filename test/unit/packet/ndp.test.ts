import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseMac } from '../../../dataplane/packet/ethernet.js';
import { parseNeighborSolicit, solicitAsksFor, writeNeighborAdvert } from '../../../dataplane/packet/ndp.js';
import { hex, ip6, naiveChecksum } from './helpers.js';

// Linux's solicitation for fd00:5:2:: from fd00:5:1:: (0e:2a:00:00:00:0a), as captured in kernel-ndp.test.ts.
const NS = hex(
  '6000000000203afffd000005000100000000000000000000ff0200000000000000000001ff000000' +
    '8700715c00000000fd000005000200000000000000000000' +
    '01010e2a0000000a',
);

function resum(p: Uint8Array): Uint8Array {
  p[42] = 0;
  p[43] = 0;
  const len = p.length - 40;
  const all = [...p.subarray(8, 40), 0, 0, len >> 8, len & 0xff, 0, 0, 0, 58, ...p.subarray(40)];
  const c = naiveChecksum(all, 0, all.length);
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return p;
}

describe('ndp', () => {
  it('parses a solicitation', () => {
    const req = parseNeighborSolicit(NS, 0, NS.length)!;
    expect(req.senderIp).toEqual(ip6('fd00:5:1::'));
    expect(solicitAsksFor(req, ip6('fd00:5:2::'))).toBe(true);
    expect(req.senderMac).toEqual(parseMac('0e:2a:00:00:00:0a'));
  });

  it.each<[string, (p: Uint8Array) => Uint8Array]>([
    [
      'a forwarded one (hop limit 254)',
      (p) => {
        p[7] = 254;
        return p;
      },
    ],
    [
      'a bad checksum',
      (p) => {
        p[50] ^= 1;
        return p;
      },
    ],
    [
      'a DAD probe (unspecified source)',
      (p) => {
        p.fill(0, 8, 24);
        return resum(p);
      },
    ],
    [
      'an option of length 0',
      (p) => {
        p[65] = 0;
        return resum(p);
      },
    ],
    [
      'an advertisement',
      (p) => {
        p[40] = 136;
        return resum(p);
      },
    ],
  ])('refuses %s', (_n, mutate) => {
    const p = mutate(NS.slice());
    expect(parseNeighborSolicit(p, 0, p.length)).toBeNull();
  });

  it('notes a solicitation without a source link-layer option', () => {
    const p = NS.slice(0, 64);
    p[5] = 24;
    const req = parseNeighborSolicit(resum(p), 0, p.length)!;
    expect(req.hasSenderMac).toBe(false);
    const out = new Uint8Array(86);
    writeNeighborAdvert(out, 0, parseMac('0e:2a:00:00:00:0b')!, req, parseMac('0e:2a:00:00:00:0c')!);
    expect(out.subarray(0, 6)).toEqual(parseMac('0e:2a:00:00:00:0c'));
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120, size: 'max' }), (b) => {
        if (b.length > 7) {
          b[0] = 0x60;
          b[6] = 58;
          b[7] = 255;
        }
        parseNeighborSolicit(b, 0, b.length);
      }),
      { numRuns: 1000 },
    );
  });
});
