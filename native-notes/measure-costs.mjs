// Measures what one call into the native shim costs: the N-API batch call itself, poll, recvmmsg/sendmmsg
// batches and TUN read/write batches. Needs root: it creates a throwaway network namespace `vxc<hex>`, runs
// itself inside it with `ip netns exec`, and deletes the namespace afterwards. Every loop is bounded.
// Usage (after `npm ci`): sudo node native-notes/measure-costs.mjs
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
if (process.argv[2] !== '--inside') {
  const ns = `vxc${randomBytes(2).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, self, '--inside'], { stdio: 'inherit', timeout: 120_000 });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  process.exit(0);
}

const m = createRequire(import.meta.url)(new URL('../dataplane/native/build/Release/vxtun_native.node', import.meta.url).pathname);
execFileSync('ip', ['link', 'set', 'lo', 'up']);

function batch(capacity, slotSize) {
  const b = {
    buf: Buffer.alloc(capacity * slotSize),
    slotSize,
    capacity,
    offsets: new Int32Array(capacity),
    lengths: new Int32Array(capacity),
    segSizes: new Int32Array(capacity),
    families: new Uint8Array(capacity),
    addrs: new Uint8Array(capacity * 16),
    ports: new Uint16Array(capacity),
    status: new Int32Array(4),
  };
  b.h = m.bindBatch(b.buf, slotSize, capacity, b.offsets, b.lengths, b.segSizes, b.families, b.addrs, b.ports, b.status);
  return b;
}

/** Median over 5 rounds of the mean time per call of fn (after a warm-up round). */
function measure(label, iterations, fn, setup = () => {}) {
  const rounds = [];
  for (let r = 0; r < 6; r++) {
    let total = 0n;
    for (let i = 0; i < iterations; i++) {
      setup();
      const t0 = process.hrtime.bigint();
      fn();
      total += process.hrtime.bigint() - t0;
    }
    if (r > 0) rounds.push(Number(total) / iterations);
  }
  rounds.sort((a, b) => a - b);
  const med = rounds[2];
  console.log(`${label.padEnd(58)} ${med >= 1000 ? `${(med / 1000).toFixed(2)} µs` : `${med.toFixed(0)} ns`}`);
  return med;
}

function udp(addr = [127, 0, 0, 1]) {
  const info = new Int32Array(3);
  const fd = m.udpOpen(4, Uint8Array.from(addr), 0, 0, 8 << 20, info);
  if (fd < 0) throw new Error(`udpOpen ${fd}`);
  return { fd, port: info[0] };
}

function fill(b, count, size, port, seg = 0) {
  for (let i = 0; i < count; i++) {
    b.offsets[i] = i * b.slotSize;
    b.lengths[i] = size;
    b.segSizes[i] = seg;
    b.families[i] = 4;
    b.addrs.set([127, 0, 0, 1], 16 * i);
    b.ports[i] = port;
  }
}

const wake = m.eventfdCreate();
const rx = udp();
const tx = udp();
const b64 = batch(64, 2048);
const big = batch(1, 65536);
const drainBatch = batch(64, 2048);
function drainAll() {
  for (let i = 0; i < 64 && m.udpRecv(rx.fd, drainBatch.h, 0) > 0; i++);
}

console.log(`node ${process.version}, ${execFileSync('uname', ['-r']).toString().trim()}`);
measure('N-API batch call, rejected before any syscall (udpRecv, bad headroom)', 200_000, () => m.udpRecv(rx.fd, b64.h, 1 << 30));
measure('eventfdSignal (N-API + write(2))', 100_000, () => m.eventfdSignal(wake));
m.eventfdDrain(wake);
measure('pollWait, nothing ready, timeout 0 (N-API + poll(2) on 3 fds)', 100_000, () => m.pollWait(rx.fd, tx.fd, wake, 0));
measure('udpRecv(64) on an empty socket (N-API + recvmmsg -> EAGAIN)', 100_000, () => m.udpRecv(rx.fd, b64.h, 0));

// The TypeScript wrappers, when compiled (npm run build): WeakMap lookup of the batch handle + status checks.
const dist = new URL('../dist/dataplane/sys/', import.meta.url);
try {
  const { openUdp } = await import(new URL('udp.js', dist).href);
  const { PacketBatch } = await import(new URL('types.js', dist).href);
  const bind = openUdp({ family: 4, address: '127.0.0.1', port: 0, reusePort: false, bufferBytes: 0, gro: false });
  const pb = new PacketBatch(64, 2048);
  measure('NativeUdpBind.recv(64) on an empty socket (wrapper + the above)', 100_000, () => bind.recv(pb, 0));
  bind.close();
} catch (e) {
  console.log(`(wrappers not measured: ${e.message}; run npm run build first)`);
}

fill(b64, 64, 1400, rx.port);
const perSend = measure(
  'udpSend 64 x 1400 B, plain sendmmsg (loopback, incl. delivery)',
  300,
  () => {
    m.udpSend(tx.fd, b64.h, 0, 64, 0);
  },
  drainAll,
);
console.log(`${'  per datagram'.padEnd(58)} ${(perSend / 64 / 1000).toFixed(2)} µs`);
fill(big, 1, 46 * 1400, rx.port, 1400);
const perGso = measure(
  'udpSend 1 x 46 x 1400 B with UDP_SEGMENT (loopback)',
  300,
  () => {
    m.udpSend(tx.fd, big.h, 0, 1, 1);
  },
  drainAll,
);
console.log(`${'  per datagram'.padEnd(58)} ${(perGso / 46 / 1000).toFixed(2)} µs`);
const perRecv = measure(
  'udpRecv 64 queued x 1400 B (recvmmsg of 64)',
  300,
  () => {
    m.udpRecv(rx.fd, b64.h, 0);
  },
  () => {
    drainAll();
    fill(b64, 64, 1400, rx.port);
    m.udpSend(tx.fd, b64.h, 0, 64, 0);
  },
);
console.log(`${'  per datagram'.padEnd(58)} ${(perRecv / 64 / 1000).toFixed(2)} µs`);

// TUN: packets routed into the device are read back in batches; written packets enter the stack and are dropped
// at the route lookup (forwarding is off), so the write cost is the syscall plus ingress up to that point.
const fds = new Int32Array(1);
const name = new Uint8Array(16);
if (m.tunOpen('vxcost0', 0, fds, name) < 0) throw new Error('tunOpen');
const tun = fds[0];
m.linkSetMtu('vxcost0', 1500);
m.linkAdd('vxcost0', 4, Uint8Array.of(10, 202, 0, 0), 32, 0);
m.linkSetUp('vxcost0');
m.linkAdd('vxcost0', 4, Uint8Array.of(10, 202, 0, 0), 16, 1);
const tunSrc = udp([10, 202, 0, 0]);
const toTun = batch(64, 2048);
for (let i = 0; i < 64; i++) {
  toTun.offsets[i] = i * 2048;
  toTun.lengths[i] = 1400;
  toTun.segSizes[i] = 0;
  toTun.families[i] = 4;
  toTun.addrs.set([10, 202, 1, 1], 16 * i);
  toTun.ports[i] = 9;
}
const tunBatch = batch(64, 2048);
const perTunRead = measure(
  'tunRead 64 queued x 1428 B packets (64 read(2) + EAGAIN)',
  300,
  () => {
    m.tunRead(tun, tunBatch.h, 0);
  },
  () => {
    while (m.tunRead(tun, tunBatch.h, 0) > 0);
    m.udpSend(tunSrc.fd, toTun.h, 0, 64, 0);
  },
);
console.log(`${'  per packet'.padEnd(58)} ${(perTunRead / 64 / 1000).toFixed(2)} µs`);
if (m.tunRead(tun, tunBatch.h, 0) !== 0 || m.udpSend(tunSrc.fd, toTun.h, 0, 64, 0) !== 64 || m.tunRead(tun, tunBatch.h, 0) !== 64)
  throw new Error('TUN did not deliver 64 packets');
const perTunWrite = measure('tunWrite 64 x 1428 B (64 write(2), dropped at routing)', 300, () => {
  if (m.tunWrite(tun, tunBatch.h, 64) !== 64) throw new Error('tunWrite');
});
console.log(`${'  per packet'.padEnd(58)} ${(perTunWrite / 64 / 1000).toFixed(2)} µs`);
for (const fd of [tun, rx.fd, tx.fd, tunSrc.fd, wake]) m.closeFd(fd);
