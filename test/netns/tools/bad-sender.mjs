// Fires malformed VXLAN datagrams at a vxtun host, `rounds` times each kind, and prints how many of each it
// sent as {"short":N,…}. Usage:
//   node bad-sender.mjs <dst-ip> <port> <vni> <dst-vtep-mac> <inner-src-ip> <inner-dst-ip> <rounds> [bind-ip] [only-kind]
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

const [dst, port, vni, mac, innerSrc, innerDst, rounds, bindIp, only] = process.argv.slice(2);
const dstMac = Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
const srcMac = Buffer.from([0x02, 0xee, 0, 0, 0, 1]);

function vxlan(v = Number(vni), flags = 0x08) {
  const b = Buffer.alloc(8);
  b[0] = flags;
  b.writeUIntBE(v, 4, 3);
  return b;
}
function eth(d = dstMac, type = 0x0800) {
  const b = Buffer.alloc(14);
  d.copy(b, 0); srcMac.copy(b, 6); b.writeUInt16BE(type, 12);
  return b;
}
function ipv4(src, dstIp, payloadLen, claimedTotal) {
  const b = Buffer.alloc(20);
  b[0] = 0x45; b.writeUInt16BE(claimedTotal ?? 20 + payloadLen, 2); b[8] = 64; b[9] = 17;
  src.split('.').forEach((o, i) => { b[12 + i] = Number(o); });
  dstIp.split('.').forEach((o, i) => { b[16 + i] = Number(o); });
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  b.writeUInt16BE(~s & 0xffff, 10);
  return b;
}
function udp(payload) {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(40000, 0); b.writeUInt16BE(40001, 2); b.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([b, payload]);
}
const body = udp(Buffer.from('not from the peer it claims'));
const kinds = {
  short: () => randomBytes(1 + Math.floor(Math.random() * 30)),
  badFlags: () => Buffer.concat([vxlan(Number(vni), 0x0c), eth(), ipv4(innerSrc, innerDst, body.length), body]),
  wrongVni: () => Buffer.concat([vxlan(Number(vni) + 1), eth(), ipv4(innerSrc, innerDst, body.length), body]),
  notOurMac: () => Buffer.concat([vxlan(), eth(Buffer.from([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])), ipv4(innerSrc, innerDst, body.length), body]),
  badEthertype: () => Buffer.concat([vxlan(), eth(dstMac, 0x88cc), randomBytes(40)]),
  badInner: () => Buffer.concat([vxlan(), eth(), ipv4(innerSrc, innerDst, 10, 1400), randomBytes(10)]),
  spoofedSource: () => Buffer.concat([vxlan(), eth(), ipv4('10.244.99.9', innerDst, body.length), body]),
  random: () => { const b = randomBytes(64 + Math.floor(Math.random() * 1200)); b[0] = 0xff; return b; },
};
const sock = dgram.createSocket('udp4');
const counts = Object.fromEntries(Object.keys(kinds).filter((k) => !only || k === only).map((k) => [k, 0]));
sock.bind(0, bindIp || undefined, async () => {
  for (let r = 0; r < Number(rounds); r++) {
    for (const k of Object.keys(counts)) {
      await new Promise((res, rej) => sock.send(kinds[k](), Number(port), dst, (e) => (e ? rej(e) : res())));
      counts[k]++;
    }
    await new Promise((res) => setTimeout(res, 2));
  }
  console.log(JSON.stringify(counts));
  sock.close();
});
