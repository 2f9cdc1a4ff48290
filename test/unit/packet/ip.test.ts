import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addrInPrefix, formatAddr, IpInfo, parseIp, setIpLength, writeIpHeader } from '../../../dataplane/packet/ip.js';
import { hex, ip4, ip6, ipv4HeaderValid } from './helpers.js';

// Wikipedia's IPv4 header example (UDP, 192.168.0.1 -> 192.168.0.199, DF), with 95 payload bytes.
const V4 = hex('45000073000040004011b861c0a80001c0a800c7' + '00'.repeat(95));
// IPv6 TCP header, payload 20, fd00::1 -> fd00::2.
const V6 = hex('6000000000140640' + 'fd000000000000000000000000000001' + 'fd000000000000000000000000000002' + '00'.repeat(20));

describe('parseIp', () => {
  it('parses IPv4', () => {
    const info = parseIp(V4, 0, V4.length);
    expect({ ...info }).toEqual({
      family: 4,
      headerLen: 20,
      proto: 17,
      totalLen: 115,
      srcOff: 12,
      dstOff: 16,
      addrLen: 4,
      dontFragment: true,
      fragment: false,
    });
  });

  it('parses IPv6 at an offset, with trailing padding', () => {
    const buf = new Uint8Array(V6.length + 30);
    buf.set(V6, 10);
    const info = parseIp(buf, 10, V6.length + 20);
    expect({ ...info }).toEqual({
      family: 6,
      headerLen: 40,
      proto: 6,
      totalLen: 60,
      srcOff: 18,
      dstOff: 34,
      addrLen: 16,
      dontFragment: true,
      fragment: false,
    });
  });

  it.each<[string, (b: Uint8Array) => void, Partial<IpInfo> | null]>([
    [
      'MF set',
      (b) => {
        b[6] = 0x20;
      },
      { fragment: true, dontFragment: false },
    ],
    [
      'offset non-zero',
      (b) => {
        b[6] = 0x00;
        b[7] = 0x01;
      },
      { fragment: true, dontFragment: false },
    ],
    [
      'IHL 6 (options)',
      (b) => {
        b[0] = 0x46;
      },
      { headerLen: 24 },
    ],
    [
      'IHL 4',
      (b) => {
        b[0] = 0x44;
      },
      null,
    ],
    [
      'total length past the bytes',
      (b) => {
        b[2] = 0x10;
      },
      null,
    ],
    [
      'total length below the header',
      (b) => {
        b[2] = 0;
        b[3] = 10;
      },
      null,
    ],
    [
      'version 5',
      (b) => {
        b[0] = 0x55;
      },
      null,
    ],
  ])('IPv4 with %s', (_n, mutate, want) => {
    const b = V4.slice();
    mutate(b);
    const info = parseIp(b, 0, b.length, new IpInfo());
    if (want === null) expect(info).toBeNull();
    else expect(info).toMatchObject(want);
  });

  it('reports the first IPv6 extension header as proto and Fragment headers as fragments', () => {
    const b = V6.slice();
    b[6] = 44;
    expect(parseIp(b, 0, b.length)).toMatchObject({ proto: 44, headerLen: 40, fragment: true });
    b[6] = 0;
    expect(parseIp(b, 0, b.length)).toMatchObject({ proto: 0, fragment: false });
    expect(parseIp(b, 0, 59)).toBeNull();
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80, size: 'max' }), fc.nat(100), fc.nat(100), (b, off, len) => {
        const info = parseIp(b, off, len);
        if (info !== null) expect(off + info.totalLen).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('addresses', () => {
  it.each<[string, 4 | 6, Uint8Array, Uint8Array, number, boolean]>([
    ['in /24', 4, ip4('10.5.72.9'), ip4('10.5.72.0'), 24, true],
    ['outside /24', 4, ip4('10.5.73.9'), ip4('10.5.72.0'), 24, false],
    ['in /20 (partial byte)', 4, ip4('10.5.79.1'), ip4('10.5.64.0'), 20, true],
    ['outside /20', 4, ip4('10.5.80.1'), ip4('10.5.64.0'), 20, false],
    ['/0 holds everything', 4, ip4('1.2.3.4'), ip4('0.0.0.0'), 0, true],
    ['/32 exact', 4, ip4('10.0.0.1'), ip4('10.0.0.1'), 32, true],
    ['/33 is invalid', 4, ip4('10.0.0.1'), ip4('10.0.0.1'), 33, false],
    ['v6 /64', 6, ip6('fd00:1:2:3::9'), ip6('fd00:1:2:3::'), 64, true],
    ['v6 /61 edge', 6, ip6('fd00:1:2:f::9'), ip6('fd00:1:2:8::'), 61, true],
    ['v6 /62 outside', 6, ip6('fd00:1:2:f::9'), ip6('fd00:1:2:8::'), 62, false],
  ])('addrInPrefix %s', (_n, fam, addr, prefix, len, want) => {
    expect(addrInPrefix(addr, 0, fam, prefix, len)).toBe(want);
  });

  it('formats addresses', () => {
    expect(formatAddr(V4, 16, 4)).toBe('192.168.0.199');
    expect(formatAddr(V6, 8, 6)).toBe('fd00:0:0:0:0:0:0:1');
  });
});

describe('IP header writers', () => {
  it('writes the Wikipedia IPv4 header byte for byte (DF, TTL 64, id 0)', () => {
    const b = new Uint8Array(20);
    writeIpHeader(b, 0, 4, 17, 64, ip4('192.168.0.1'), 0, ip4('192.168.0.199'), 0, 95);
    expect(b).toEqual(V4.subarray(0, 20));
  });

  it('setIpLength fixes IPv4 total length + checksum and IPv6 payload length', () => {
    const b = V4.slice();
    setIpLength(b, 0, 4, 20, 100);
    expect([b[2], b[3]]).toEqual([0, 100]);
    expect(ipv4HeaderValid(b)).toBe(true);
    const c = V6.slice();
    setIpLength(c, 0, 6, 40, 1040);
    expect([c[4], c[5]]).toEqual([0x03, 0xe8]);
  });
});
