/** Builders and naive reference implementations for packet tests (independent of the code under test). */

export function naiveChecksum(bytes: ArrayLike<number>, start: number, len: number, initial = 0): number {
  let s = initial;
  for (let i = 0; i < len; i += 2) s += (bytes[start + i] << 8) + (i + 1 < len ? bytes[start + i + 1] : 0);
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex'));
}

export function ip4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

/** Full-form IPv6 only ("fd00:0:0:0:0:0:0:1" or with "::"), enough for tests. */
export function ip6(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function pseudo(family: 4 | 6, src: Uint8Array, dst: Uint8Array, proto: number, len: number): number[] {
  return family === 4 ? [...src, ...dst, 0, proto, len >> 8, len & 0xff] : [...src, ...dst, 0, 0, len >> 8, len & 0xff, 0, 0, 0, proto];
}

/** True when the TCP/UDP checksum of the IP packet is valid (naive, from scratch). */
export function l4ChecksumValid(pkt: Uint8Array, family: 4 | 6): boolean {
  const iph = family === 4 ? (pkt[0] & 15) * 4 : 40;
  const src = family === 4 ? pkt.subarray(12, 16) : pkt.subarray(8, 24);
  const dst = family === 4 ? pkt.subarray(16, 20) : pkt.subarray(24, 40);
  const proto = family === 4 ? pkt[9] : pkt[6];
  const l4 = [...pkt.subarray(iph)];
  const all = [...pseudo(family, src, dst, proto, l4.length), ...(l4.length % 2 ? [...l4, 0] : l4)];
  return naiveChecksum(all, 0, all.length) === 0;
}

export function ipv4HeaderValid(pkt: Uint8Array): boolean {
  return naiveChecksum(pkt, 0, (pkt[0] & 15) * 4) === 0;
}

export interface TcpSpec {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  options?: Uint8Array;
  ttl?: number;
  id?: number;
  window?: number;
}

/** A complete, valid TCP/IP packet (IPv4 with DF, or IPv6). */
export function buildTcp(p: TcpSpec): Uint8Array {
  const opts = p.options ?? new Uint8Array(0);
  const thl = 20 + opts.length;
  const iph = p.family === 4 ? 20 : 40;
  const pkt = new Uint8Array(iph + thl + p.payload.length);
  const dv = new DataView(pkt.buffer);
  if (p.family === 4) {
    pkt[0] = 0x45;
    dv.setUint16(2, pkt.length);
    dv.setUint16(4, p.id ?? 0x1234);
    pkt[6] = 0x40;
    pkt[8] = p.ttl ?? 64;
    pkt[9] = 6;
    pkt.set(p.src, 12);
    pkt.set(p.dst, 16);
    dv.setUint16(10, naiveChecksum(pkt, 0, 20));
  } else {
    pkt[0] = 0x60;
    dv.setUint16(4, pkt.length - 40);
    pkt[6] = 6;
    pkt[7] = p.ttl ?? 64;
    pkt.set(p.src, 8);
    pkt.set(p.dst, 24);
  }
  dv.setUint16(iph, p.sport);
  dv.setUint16(iph + 2, p.dport);
  dv.setUint32(iph + 4, p.seq >>> 0);
  dv.setUint32(iph + 8, p.ack >>> 0);
  pkt[iph + 12] = (thl / 4) << 4;
  pkt[iph + 13] = p.flags;
  dv.setUint16(iph + 14, p.window ?? 502);
  pkt.set(opts, iph + 20);
  pkt.set(p.payload, iph + thl);
  const l4 = [...pkt.subarray(iph)];
  const all = [...pseudo(p.family, p.src, p.dst, 6, l4.length), ...(l4.length % 2 ? [...l4, 0] : l4)];
  dv.setUint16(iph + 16, naiveChecksum(all, 0, all.length));
  return pkt;
}

/** A complete, valid UDP/IP packet. */
export function buildUdp(family: 4 | 6, src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const iph = family === 4 ? 20 : 40;
  const pkt = new Uint8Array(iph + 8 + payload.length);
  const dv = new DataView(pkt.buffer);
  if (family === 4) {
    pkt[0] = 0x45;
    dv.setUint16(2, pkt.length);
    pkt[6] = 0x40;
    pkt[8] = 64;
    pkt[9] = 17;
    pkt.set(src, 12);
    pkt.set(dst, 16);
    dv.setUint16(10, naiveChecksum(pkt, 0, 20));
  } else {
    pkt[0] = 0x60;
    dv.setUint16(4, pkt.length - 40);
    pkt[6] = 17;
    pkt[7] = 64;
    pkt.set(src, 8);
    pkt.set(dst, 24);
  }
  dv.setUint16(iph, sport);
  dv.setUint16(iph + 2, dport);
  dv.setUint16(iph + 4, 8 + payload.length);
  pkt.set(payload, iph + 8);
  const l4 = [...pkt.subarray(iph)];
  const all = [...pseudo(family, src, dst, 17, l4.length), ...(l4.length % 2 ? [...l4, 0] : l4)];
  dv.setUint16(iph + 6, naiveChecksum(all, 0, all.length) || 0xffff);
  return pkt;
}

/** The folded pseudo-header sum the kernel leaves in the checksum field of a CHECKSUM_PARTIAL packet. */
export function partialChecksum(pkt: Uint8Array, family: 4 | 6): number {
  const iph = family === 4 ? (pkt[0] & 15) * 4 : 40;
  const src = family === 4 ? pkt.subarray(12, 16) : pkt.subarray(8, 24);
  const dst = family === 4 ? pkt.subarray(16, 20) : pkt.subarray(24, 40);
  const proto = family === 4 ? pkt[9] : pkt[6];
  const ps = pseudo(family, src, dst, proto, pkt.length - iph);
  return ~naiveChecksum(ps, 0, ps.length) & 0xffff;
}
