// The benchmark's WAN (bench/testbed/wan.ts): the relay namespace routes every IP packet between the two hosts
// into this TUN device; the packet is read here, goes through impair.mjs's pipeline (loss, a fixed delay; the
// VXLAN-specific corruptions of relay.mjs do not apply to whole IP packets) and is written back, after which the
// kernel forwards it on to the other host. One process, one packet per read and per write syscall (the device
// has no offloads, so the kernel segments super-packets before they reach it): its ceiling is the path's.
// Usage: node tun-relay.mjs <tun-name> <mtu> <host-a-IPv4> <impairments>   (needs `npm run build`: vxtun's shim)
// Prints "relay: listening" on stderr once the device is up; on SIGTERM prints the counts as JSON and exits.
import { createPoller, createWakeFd } from '../../dist/dataplane/sys/poll.js';
import { configureLink, openTun } from '../../dist/dataplane/sys/tun.js';
import { PacketBatch } from '../../dist/dataplane/sys/types.js';
import { DelayLine, direction, newCounts, parseImpairments } from './impair.mjs';

const [name, mtuArg, hostA, spec] = process.argv.slice(2);
const opts = parseImpairments(spec);
if (opts.zeroChecksum || opts.p.corruptOuter + opts.p.corruptInner + opts.p.corruptIpHeader > 0) {
  throw new Error('tun-relay: corruption and zeroChecksum are VXLAN impairments; use relay.mjs for them');
}
const mtu = Number(mtuArg);
const hostAWord = hostA.split('.').reduce((word, octet) => word * 256 + Number(octet), 0);
const counts = newCounts();
const BATCH = 64;
const SLOT = mtu + 64;
/** Reads per turn of the loop before due packets are written and the event loop (signals, timers) gets a turn. */
const READS_PER_TURN = 8;
/** The longest a turn waits for a packet: how late a SIGTERM may be handled. */
const MAX_WAIT_MS = 50;

const tun = openTun({ name, multiQueue: false, vnetHdr: false, queues: 1 }).queues[0];
configureLink(name, { mtu, addresses: [], routes: [] });
const wakeFd = createWakeFd();
// The poller watches a TUN queue, a UDP socket and a wake fd; this relay has no socket, so the wake fd stands in.
const poller = createPoller(tun, { fd: wakeFd }, wakeFd);
const readBatch = new PacketBatch(BATCH, SLOT);
const writeBatch = new PacketBatch(BATCH, SLOT);
let pending = 0;

function flushWrites() {
  if (pending === 0) return;
  counts.sendFailed += pending - tun.write(writeBatch, pending);
  pending = 0;
}

function send(msg) {
  const at = pending * SLOT;
  msg.copy(writeBatch.buf, at);
  writeBatch.offsets[pending] = at;
  writeBatch.lengths[pending] = msg.length;
  if (++pending === BATCH) flushWrites();
}

const delayLine = new DelayLine(opts.delayMs, counts, false);
const pipe = (impaired) => direction({ impaired, opts, counts, corrupt: () => undefined, send, delayLine });
const fromA = pipe(opts.direction !== 'ba');
const fromB = pipe(opts.direction !== 'ab');
// A packet that outlives this turn (delayed, held back, duplicated) must not sit in the read batch, which the next read reuses.
const keep = opts.delayMs > 0 || opts.p.reorder > 0 || opts.p.duplicate > 0;

let stopping = false;
function turn() {
  if (stopping) return;
  const next = delayLine.flush();
  flushWrites();
  poller.wait(next < 0 ? MAX_WAIT_MS : Math.min(MAX_WAIT_MS, Math.ceil(next)));
  for (let r = 0; r < READS_PER_TURN; r++) {
    const n = tun.read(readBatch, 0);
    for (let i = 0; i < n; i++) {
      const view = readBatch.buf.subarray(readBatch.offsets[i], readBatch.offsets[i] + readBatch.lengths[i]);
      const msg = keep ? Buffer.from(view) : view;
      const fromHostA = msg.length >= 20 && msg[0] >>> 4 === 4 && msg.readUInt32BE(12) === hostAWord;
      (fromHostA ? fromA : fromB)(msg);
    }
    flushWrites();
    if (n < BATCH) break;
  }
  delayLine.flush();
  flushWrites();
  setImmediate(turn);
}

process.on('SIGTERM', () => {
  stopping = true;
  console.log(JSON.stringify(counts));
  tun.close();
  process.exit(0);
});
console.error('relay: listening');
setImmediate(turn);
