// The impairing underlay between two hosts: a UDP relay that sits in its own namespace, receives each VXLAN
// datagram on the side facing one host and sends it on from the side facing the other, impaired on the way.
// Usage: node relay.mjs <addr-facing-a> <host-a-addr> <addr-facing-b> <host-b-addr> <ports,comma-separated> <impairments>
//   impairments: comma-separated key=probability, e.g. loss=0.01,reorder=0.02,duplicate=0.01,
//     corruptOuter=0.001 (a bit of the VXLAN or inner Ethernet header), corruptInner=0.001 (a bit of the inner
//     transport header or payload), corruptIpHeader=0.1 (a bit of the inner IPv4 identification field, so only
//     the header checksum can tell), optionally direction=ab|ba (impair one way only; default both), or "none".
// The relay sends with an ordinary socket, so the outer UDP checksum it sends covers the bytes as impaired: the
// receiving kernel accepts corrupted datagrams exactly as it does datagrams sent with a zero outer checksum.
// Prints "relay: listening" on stderr when ready; on SIGTERM prints {"relayed":N,"loss":N,...} and exits.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';

const [facingA, hostA, facingB, hostB, portList, spec] = process.argv.slice(2);
const ports = portList.split(',').map(Number);
const p = { loss: 0, reorder: 0, duplicate: 0, corruptOuter: 0, corruptInner: 0, corruptIpHeader: 0 };
let direction = 'both';
if (spec !== 'none') {
  for (const kv of spec.split(',')) {
    const [k, v] = kv.split('=');
    if (k === 'direction' && (v === 'ab' || v === 'ba')) { direction = v; continue; }
    if (!(k in p) || !(Number(v) >= 0 && Number(v) <= 1)) throw new Error(`relay: bad impairment "${kv}"`);
    p[k] = Number(v);
  }
}
const counts = { relayed: 0, loss: 0, reorder: 0, duplicate: 0, corruptOuter: 0, corruptInner: 0, corruptIpHeader: 0 };
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

function impair(msg) {
  if (Math.random() < p.corruptOuter && flip(msg, 0, VXLAN_ETH)) counts.corruptOuter++;
  const ihl = innerHeaderLen(msg);
  if (ihl > 0 && Math.random() < p.corruptInner && flip(msg, VXLAN_ETH + ihl, msg.length)) counts.corruptInner++;
  if (ihl > 0 && msg[VXLAN_ETH] >>> 4 === 4 && Math.random() < p.corruptIpHeader && flip(msg, VXLAN_ETH + 4, VXLAN_ETH + 6)) counts.corruptIpHeader++;
}

const sockets = [];
let ready = 0;
for (const port of ports) {
  const a = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  const b = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  // What arrives from one side leaves from the other side's socket, so each host sees the relay as its peer.
  wire(a, b, hostB, port, direction !== 'ba');
  wire(b, a, hostA, port, direction !== 'ab');
  for (const [s, addr] of [[a, facingA], [b, facingB]]) {
    sockets.push(s);
    s.bind(port, addr, () => { if (++ready === 2 * ports.length) console.error('relay: listening'); });
  }
}

function wire(from, to, dst, port, impaired) {
  let held = null;
  let heldTimer = null;
  const release = () => {
    if (held === null) return;
    to.send(held, port, dst);
    held = null;
    clearTimeout(heldTimer);
  };
  from.on('message', (msg) => {
    counts.relayed++;
    if (!impaired) { to.send(msg, port, dst); return; }
    if (Math.random() < p.loss) { counts.loss++; return; }
    impair(msg);
    if (Math.random() < p.duplicate) { counts.duplicate++; to.send(Buffer.from(msg), port, dst); }
    if (held === null && Math.random() < p.reorder) {
      // Held back until the next datagram has gone (or 2 ms pass), so it arrives after a later one.
      counts.reorder++;
      held = msg;
      heldTimer = setTimeout(release, 2);
      return;
    }
    to.send(msg, port, dst);
    release();
  });
}

process.on('SIGTERM', () => {
  console.log(JSON.stringify(counts));
  for (const s of sockets) s.close();
  process.exit(0);
});
