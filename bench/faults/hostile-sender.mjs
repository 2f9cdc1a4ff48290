// Fires hostile VXLAN datagrams at a vxtun host, `rounds` times each kind, and prints how many of each it sent as
// {"short":N,…}. Usage:
//   node hostile-sender.mjs <dst-ip> <port> <vni> <dst-vtep-mac> <inner-src-ip> <inner-dst-ip> <rounds> [bind-ip] [kinds]
// kinds: comma-separated names, or "classic" (default: the kinds before truncated) or "all".
// Where each must end up: short, badFlags (also random), wrongVni, notOurMac, badEthertype, badInner (also
// truncated), spoofedSource, badChecksum (also badIpChecksum) in vxtun's drop counters; badIcmpChecksum passes
// vxtun (ICMP is the kernel's to verify) and lands in the receiving kernel's Icmp InCsumErrors.
import dgram from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';

const [dst, port, vni, mac, innerSrc, innerDst, rounds, bindIp, kindList] = process.argv.slice(2);
const dstMac = Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
const srcMac = Buffer.from([0x02, 0xee, 0, 0, 0, 1]);
const addr = (s) => Buffer.from(s.split('.').map(Number));

function sum(b, initial = 0) {
  let s = initial;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function vxlan(v = Number(vni), flags = 0x08) {
  const b = Buffer.alloc(8);
  b[0] = flags;
  b.writeUIntBE(v, 4, 3);
  return b;
}
function eth(d = dstMac, type = 0x0800) {
  const b = Buffer.alloc(14);
  d.copy(b, 0);
  srcMac.copy(b, 6);
  b.writeUInt16BE(type, 12);
  return b;
}
function ipv4(src, dstIp, payloadLen, claimedTotal, proto = 17) {
  const b = Buffer.alloc(20);
  b[0] = 0x45;
  b.writeUInt16BE(claimedTotal ?? 20 + payloadLen, 2);
  b[8] = 64;
  b[9] = proto;
  addr(src).copy(b, 12);
  addr(dstIp).copy(b, 16);
  b.writeUInt16BE(~sum(b) & 0xffff, 10);
  return b;
}
/** A UDP datagram with a correct checksum, or (bad) one that is wrong and is not the pseudo-header sum either. */
function udp(payload, src = innerSrc, bad = false) {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(40000, 0);
  b.writeUInt16BE(40001, 2);
  b.writeUInt16BE(8 + payload.length, 4);
  const d = Buffer.concat([b, payload]);
  const pseudo = sum(Buffer.concat([addr(src), addr(innerDst), Buffer.from([0, 17]), Buffer.from([d.length >> 8, d.length & 0xff])]));
  const good = ~sum(d, pseudo) & 0xffff || 0xffff;
  let c = good;
  if (bad)
    for (const x of [0x00ff, 0x0f0f, 0x3333]) {
      c = good ^ x;
      if (c !== 0 && c !== pseudo) break;
    }
  d.writeUInt16BE(c, 6);
  return d;
}
function icmpEcho(badSum) {
  const b = Buffer.concat([Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1]), randomBytes(32)]);
  const good = ~sum(b) & 0xffff;
  b.writeUInt16BE(badSum ? good ^ 0x0101 : good, 2);
  return b;
}
const body = udp(Buffer.from('not from the peer it claims'));
const valid = () => Buffer.concat([vxlan(), eth(), ipv4(innerSrc, innerDst, body.length), body]);
const kinds = {
  short: () => randomBytes(1 + randomInt(30)),
  badFlags: () => Buffer.concat([vxlan(Number(vni), 0x0c), eth(), ipv4(innerSrc, innerDst, body.length), body]),
  wrongVni: () => Buffer.concat([vxlan(Number(vni) + 1), eth(), ipv4(innerSrc, innerDst, body.length), body]),
  notOurMac: () =>
    Buffer.concat([vxlan(), eth(Buffer.from([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])), ipv4(innerSrc, innerDst, body.length), body]),
  badEthertype: () => Buffer.concat([vxlan(), eth(dstMac, 0x88cc), randomBytes(40)]),
  badInner: () => Buffer.concat([vxlan(), eth(), ipv4(innerSrc, innerDst, 10, 1400), randomBytes(10)]),
  spoofedSource: () =>
    Buffer.concat([
      vxlan(),
      eth(),
      ipv4('10.244.99.9', innerDst, body.length),
      udp(Buffer.from('not from the peer it claims'), '10.244.99.9'),
    ]),
  random: () => {
    const b = randomBytes(64 + randomInt(1200));
    b[0] = 0xff;
    return b;
  },
  // Cut inside the inner packet (at least VXLAN + Ethernet + an IPv4 header stay): the IP length no longer fits.
  truncated: () => {
    const v = valid();
    return v.subarray(0, 42 + randomInt(v.length - 42));
  },
  badChecksum: () => {
    const u = udp(randomBytes(1 + randomInt(1000)), innerSrc, true);
    return Buffer.concat([vxlan(), eth(), ipv4(innerSrc, innerDst, u.length), u]);
  },
  badIpChecksum: () => {
    const v = valid();
    v[22 + 4] ^= 0x40;
    return v;
  },
  badIcmpChecksum: () => {
    const i = icmpEcho(true);
    return Buffer.concat([vxlan(), eth(), ipv4(innerSrc, innerDst, i.length, undefined, 1), i]);
  },
};
const classic = ['short', 'badFlags', 'wrongVni', 'notOurMac', 'badEthertype', 'badInner', 'spoofedSource', 'random'];
const chosen = !kindList || kindList === 'classic' ? classic : kindList === 'all' ? Object.keys(kinds) : kindList.split(',');
for (const k of chosen) if (!(k in kinds)) throw new Error(`hostile-sender: unknown kind "${k}"`);
const sock = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
const counts = Object.fromEntries(chosen.map((k) => [k, 0]));
sock.bind(0, bindIp || undefined, async () => {
  // Up to 64 sends in flight, then a 1 ms pause: fast enough for a million, gentle enough not to overflow a receiver.
  for (let r = 0; r < Number(rounds); ) {
    const batch = [];
    for (let n = 0; n < 64 && r < Number(rounds); r++) {
      for (const k of chosen) {
        batch.push(new Promise((res, rej) => sock.send(kinds[k](), Number(port), dst, (e) => (e ? rej(e) : res()))));
        counts[k]++;
        n++;
      }
    }
    await Promise.all(batch);
    await new Promise((res) => setTimeout(res, 1));
  }
  console.log(JSON.stringify(counts));
  sock.close();
});
