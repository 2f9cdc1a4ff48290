import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ARP_FRAME_LEN, parseArpRequest, writeArpReply } from '../../../dataplane/packet/arp.js';
import { DROP_REASON_COUNT, DROP_REASON_NAMES, DropReason } from '../../../dataplane/packet/drops.js';
import { formatMac, parseMac, randomVtepMac } from '../../../dataplane/packet/ethernet.js';
import { flowHash, flowSlot, sourcePortFromHash, SRC_PORT_MAX, SRC_PORT_MIN } from '../../../dataplane/packet/flowhash.js';
import { IpInfo, parseIp } from '../../../dataplane/packet/ip.js';
import { setTcpSeq, tcpAck, tcpFlags, tcpHeaderLen, tcpSeq } from '../../../dataplane/packet/tcp.js';
import { udpChecksum, udpLength } from '../../../dataplane/packet/udp.js';
import { readVirtioHdr, VirtioHdr, writeVirtioHdr } from '../../../dataplane/packet/virtio.js';
import { innerEthertype, overlayMtu, readVni, writeVxlan } from '../../../dataplane/packet/vxlan.js';
import { buildTcp, buildUdp, hex, ip4 } from './helpers.js';

describe('ethernet', () => {
  it.each([
    ['c6:d2:32:6f:8f:44', 'c6:d2:32:6f:8f:44'],
    ['C6-D2-32-6F-8F-44', 'c6:d2:32:6f:8f:44'],
    ['c6:d2:32:6f:8f', null],
    ['c6:d2:32:6f:8f:4g', null],
    ['', null],
  ])('parseMac(%j) -> %j', (s, want) => {
    const mac = parseMac(s);
    expect(mac === null ? null : formatMac(mac)).toBe(want);
  });

  it('randomVtepMac is locally administered unicast and random', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const m = randomVtepMac();
      expect(m[0] & 0x03).toBe(0x02);
      seen.add(formatMac(m));
    }
    expect(seen.size).toBe(50);
  });
});

describe('vxlan', () => {
  const ok = () => {
    const b = new Uint8Array(30);
    writeVxlan(b, 0, 0xabcdef);
    return b;
  };
  it.each<[string, (b: Uint8Array) => Uint8Array, number]>([
    ['a valid header', (b) => b, 0xabcdef],
    ['too short for VXLAN + Ethernet', (b) => b.subarray(0, 21), ~DropReason.SHORT],
    [
      'no I flag',
      (b) => {
        b[0] = 0;
        return b;
      },
      ~DropReason.BAD_FLAGS,
    ],
    [
      'an extra flag (GBP)',
      (b) => {
        b[0] = 0x88;
        return b;
      },
      ~DropReason.BAD_FLAGS,
    ],
    [
      'a reserved byte set',
      (b) => {
        b[7] = 1;
        return b;
      },
      ~DropReason.BAD_FLAGS,
    ],
  ])('readVni on %s', (_n, mutate, want) => {
    const b = mutate(ok());
    expect(readVni(b, 0, b.length)).toBe(want);
  });

  it('writes the RFC 7348 layout', () => {
    expect(ok().subarray(0, 8)).toEqual(hex('08000000abcdef00'));
  });

  it('readVni never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40, size: 'max' }), (b) => {
        const r = readVni(b, 0, b.length);
        expect(r < 0 ? ~r < DROP_REASON_COUNT : r <= 0xffffff).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses an unknown inner EtherType', () => {
    const mac = parseMac('0e:2a:00:00:00:0a')!;
    const eth = new Uint8Array(14);
    eth.set(mac);
    eth[12] = 0x88;
    eth[13] = 0xcc;
    expect(innerEthertype(eth, 0, mac)).toBe(~DropReason.BAD_ETHERTYPE);
  });

  it('overlay MTU is underlay - 50 (IPv4) or - 70 (IPv6)', () => {
    expect(overlayMtu(1500, 4)).toBe(1450);
    expect(overlayMtu(1500, 6)).toBe(1430);
  });
});

describe('arp', () => {
  // The request Linux sent in kernel-vxlan.test.ts: who-has 10.5.2.0 tell 10.5.1.0.
  const REQ = hex('0001 0800 0604 0001 0e2a0000000a 0a050100 000000000000 0a050200');
  it('parses a request and refuses replies and other hardware types', () => {
    expect(parseArpRequest(REQ, 0, 28)).toMatchObject({ senderIp: ip4('10.5.1.0'), targetIp: ip4('10.5.2.0') });
    expect(parseArpRequest(REQ, 0, 27)).toBeNull();
    const reply = REQ.slice();
    reply[7] = 2;
    expect(parseArpRequest(reply, 0, 28)).toBeNull();
    const ieee = REQ.slice();
    ieee[1] = 6;
    expect(parseArpRequest(ieee, 0, 28)).toBeNull();
  });

  it('writes a reply frame', () => {
    const out = new Uint8Array(ARP_FRAME_LEN);
    writeArpReply(out, 0, parseMac('0e:2a:00:00:00:0b')!, parseArpRequest(REQ, 0, 28)!);
    expect(out).toEqual(hex('0e2a0000000a 0e2a0000000b 0806 0001 0800 0604 0002 0e2a0000000b 0a050200 0e2a0000000a 0a050100'));
  });
});

describe('virtio_net_hdr', () => {
  it('is 10 bytes, u16 fields little-endian', () => {
    const h = Object.assign(new VirtioHdr(), { flags: 1, gsoType: 4, hdrLen: 0x0102, gsoSize: 1448, csumStart: 40, csumOffset: 16 });
    const b = new Uint8Array(12);
    writeVirtioHdr(b, 1, h);
    expect(b).toEqual(hex('00 01 04 0201 a805 2800 1000 00'));
    expect(readVirtioHdr(b, 1, new VirtioHdr())).toEqual(h);
  });
});

describe('tcp and udp accessors', () => {
  it('read the fields buildTcp/buildUdp wrote', () => {
    const t = buildTcp({
      family: 4,
      src: ip4('1.2.3.4'),
      dst: ip4('5.6.7.8'),
      sport: 1,
      dport: 2,
      seq: 0xfffffff0,
      ack: 0x80000001,
      flags: 0x18,
      payload: new Uint8Array(3),
      options: new Uint8Array(4),
    });
    expect([tcpSeq(t, 20), tcpAck(t, 20), tcpFlags(t, 20), tcpHeaderLen(t, 20)]).toEqual([0xfffffff0, 0x80000001, 0x18, 24]);
    setTcpSeq(t, 20, 0x100000005);
    expect(tcpSeq(t, 20)).toBe(5);
    const u = buildUdp(4, ip4('1.2.3.4'), ip4('5.6.7.8'), 1, 2, new Uint8Array(5));
    expect(udpLength(u, 20)).toBe(13);
    expect(udpChecksum(u, 20)).not.toBe(0);
  });
});

describe('drop reasons', () => {
  it('have unique, dense indices and names', () => {
    const values = Object.values(DropReason).sort((a, b) => a - b);
    expect(values).toEqual([...values.keys()]);
    expect(DROP_REASON_NAMES.length).toBe(DROP_REASON_COUNT);
    expect(DROP_REASON_NAMES[DropReason.MALFORMED_GSO]).toBe('MALFORMED_GSO');
  });
});

describe('flow hash and outer source port', () => {
  const pkt = (sport: number) =>
    buildTcp({
      family: 4,
      src: ip4('10.5.1.2'),
      dst: ip4('10.5.2.3'),
      sport,
      dport: 80,
      seq: 1,
      ack: 1,
      flags: 0x10,
      payload: new Uint8Array(0),
    });

  it('is stable for a flow, differs between flows, and ignores payload', () => {
    const a = pkt(1000);
    expect(flowHash(a, 0, a.length)).toBe(flowHash(pkt(1000), 0, 40));
    const ports = new Set<number>();
    for (let s = 1000; s < 1200; s++) ports.add(sourcePortFromHash(flowHash(pkt(s), 0, 40)));
    expect(ports.size).toBeGreaterThan(190);
  });

  it('maps every hash into Linux default range [32768, 60999)', () => {
    fc.assert(
      fc.property(fc.nat(0xffffffff), (h) => {
        const p = sourcePortFromHash(h);
        expect(p >= SRC_PORT_MIN && p < SRC_PORT_MAX).toBe(true);
      }),
    );
    expect(sourcePortFromHash(0)).toBe(SRC_PORT_MIN);
    expect(sourcePortFromHash(0xffff)).toBe(SRC_PORT_MAX - 1);
  });

  it('hashes non-IP bytes to 0 without throwing', () => {
    expect(flowHash(new Uint8Array(10), 0, 10)).toBe(0);
  });

  // IPv4 10.5.1.2 -> 10.5.2.3 with protocol `proto` and ports sport -> 80 (a TCP/UDP/ICMP header's first 4 bytes).
  const tuple = (proto: number, sport: number) =>
    Uint8Array.from([
      0x45,
      0,
      0,
      40,
      0,
      0,
      0x40,
      0,
      64,
      proto,
      0,
      0,
      10,
      5,
      1,
      2,
      10,
      5,
      2,
      3,
      sport >> 8,
      sport & 255,
      0,
      80,
      ...new Array<number>(16).fill(0),
    ]);

  it('gives each flow the hash it always had, so a flow keeps its outer source port across an upgrade', () => {
    const flows: [number, number][] = [
      [6, 1000],
      [17, 1000],
      [1, 0],
      [6, 4242],
      [17, 53],
    ];
    // Computed by the implementation before flowSlot existed.
    expect(flows.map(([p, s]) => flowHash(tuple(p, s), 0, 40))).toEqual([568076329, 1046592531, 2159673585, 220476443, 1518923913]);
  });

  it('flowSlot(n) is flowHash % n for every flow, and a small integer even where the hash is 2^30 or more', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 6, 17, 47, 132), fc.nat(0xffff), fc.integer({ min: 1, max: 64 }), (proto, sport, n) => {
        const pkt = tuple(proto, sport);
        const ip = parseIp(pkt, 0, pkt.length, new IpInfo());
        expect(ip).not.toBeNull();
        expect(flowSlot(pkt, 0, ip!, n)).toBe(flowHash(pkt, 0, pkt.length) % n);
      }),
    );
  });
});
