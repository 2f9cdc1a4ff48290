// The impairing underlay between two hosts: a UDP relay that sits in its own namespace, receives each VXLAN
// datagram on the side facing one host and sends it on from the side facing the other, impaired on the way.
// Usage: node relay.mjs <addr-facing-a> <host-a-addr> <addr-facing-b> <host-b-addr> <ports,comma-separated> <impairments>
//   impairments: see impair.mjs, e.g. loss=0.01,reorder=0.02,duplicate=0.01,delay=5; here corruptOuter flips a bit
//     of the VXLAN or inner Ethernet header, corruptInner a bit of the inner transport header or payload,
//     corruptIpHeader a bit of the inner IPv4 identification field (so only the header checksum can tell), and
//     zeroChecksum=1 sends every datagram with a zero outer UDP checksum, as Linux VXLAN's noudpcsum does.
// Without zeroChecksum the relay sends with an ordinary socket, so the outer checksum covers the bytes as
// impaired: the receiving kernel accepts corrupted datagrams just as it does those with a zero checksum.
// zeroChecksum sends through vxtun's own UDP wrapper (SO_NO_CHECK; needs `npm run build`), from an ephemeral port.
// Prints "relay: listening" on stderr when ready; on SIGTERM prints {"relayed":N,"loss":N,...} and exits.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { DelayLine, direction as relayDirection, newCounts, parseImpairments } from './impair.mjs';

const [facingA, hostA, facingB, hostB, portList, spec] = process.argv.slice(2);
const ports = portList.split(',').map(Number);
const opts = parseImpairments(spec);
const { direction, zeroChecksum } = opts;
const counts = newCounts();
const VXLAN_ETH = 8 + 14;

function flip(msg, from, to) {
  if (to <= from) return false;
  const i = from + randomInt(to - from);
  msg[i] ^= 1 << randomInt(8);
  return true;
}

/** The inner IPv4/IPv6 header length, or 0 when the datagram does not hold one. */
function innerHeaderLen(msg) {
  if (msg.length < VXLAN_ETH + 40) return 0;
  const v = msg[VXLAN_ETH] >>> 4;
  return v === 4 ? (msg[VXLAN_ETH] & 0x0f) * 4 : v === 6 ? 40 : 0;
}

function impair(msg, p) {
  if (Math.random() < p.corruptOuter && flip(msg, 0, VXLAN_ETH)) counts.corruptOuter++;
  const ihl = innerHeaderLen(msg);
  if (ihl > 0 && Math.random() < p.corruptInner && flip(msg, VXLAN_ETH + ihl, msg.length)) counts.corruptInner++;
  if (ihl > 0 && msg[VXLAN_ETH] >>> 4 === 4 && Math.random() < p.corruptIpHeader && flip(msg, VXLAN_ETH + 4, VXLAN_ETH + 6))
    counts.corruptIpHeader++;
}

/** A send function from `addr`: the dgram socket's own, or a SO_NO_CHECK socket of vxtun's wrapper. */
async function sender(sock, addr) {
  if (!zeroChecksum) return (msg, port, dst) => sock.send(msg, port, dst);
  if (!isIPv4(addr)) throw new Error('relay: zeroChecksum needs IPv4');
  const { openUdp } = await import('../../dist/dataplane/sys/udp.js');
  const { PacketBatch } = await import('../../dist/dataplane/sys/types.js');
  const bind = openUdp({ family: 4, address: addr, port: 0, reusePort: false, bufferBytes: 8 << 20, gro: false, zeroChecksum: true });
  const batch = new PacketBatch(1, 65600);
  return (msg, port, dst) => {
    msg.copy(batch.buf, 0);
    batch.offsets[0] = 0;
    batch.lengths[0] = msg.length;
    batch.segSizes[0] = 0;
    batch.families[0] = 4;
    dst.split('.').forEach((o, i) => {
      batch.addrs[i] = Number(o);
    });
    batch.ports[0] = port;
    if (bind.send(batch, 1) < 1) counts.sendFailed++;
  };
}

const sockets = [];
let ready = 0;
for (const port of ports) {
  const a = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  const b = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  // What arrives from one side leaves from the other side's socket, so each host sees the relay as its peer.
  wire(a, await sender(b, facingB), hostB, port, direction !== 'ba');
  wire(b, await sender(a, facingA), hostA, port, direction !== 'ab');
  for (const [s, addr] of [
    [a, facingA],
    [b, facingB],
  ]) {
    sockets.push(s);
    s.bind(port, addr, () => {
      if (++ready === 2 * ports.length) console.error('relay: listening');
    });
  }
}

function wire(from, send, dst, port, impaired) {
  const delayLine = new DelayLine(opts.delayMs, counts, true);
  from.on('message', relayDirection({ impaired, opts, counts, corrupt: impair, send: (msg) => send(msg, port, dst), delayLine }));
}

process.on('SIGTERM', () => {
  console.log(JSON.stringify(counts));
  for (const s of sockets) s.close();
  process.exit(0);
});
