/** The real shim without root: UDP over loopback (GSO, GRO, fallback), eventfd wake-ups across worker threads. */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNative } from '../../../dataplane/sys/native.js';
import { closeFd, createPoller, createWakeFd, signalWake } from '../../../dataplane/sys/poll.js';
import { tunQueueFromFd } from '../../../dataplane/sys/tun.js';
import { openUdp, type NativeUdpBind } from '../../../dataplane/sys/udp.js';
import { PacketBatch, READY_UDP, READY_WAKE } from '../../../dataplane/sys/types.js';

const ADDON = new URL('../../../dataplane/native/build/Release/vxtun_native.node', import.meta.url).pathname;
const open: { close(): void }[] = [];
afterEach(() => open.splice(0).forEach((x) => x.close()));

function bind(gro: boolean, family: 4 | 6 = 4): NativeUdpBind {
  const b = openUdp({ family, address: family === 4 ? '127.0.0.1' : '::1', port: 0, reusePort: false, bufferBytes: 4 << 20, gro });
  open.push(b);
  return b;
}

function payload(len: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: len }, (_, i) => (i * 13 + seed) & 0xff));
}

function queue(batch: PacketBatch, i: number, bytes: Buffer, segSize: number, to: NativeUdpBind): void {
  const off = batch.slotStart(i) + 8;
  bytes.copy(batch.buf, off);
  batch.offsets[i] = off;
  batch.lengths[i] = bytes.length;
  batch.segSizes[i] = segSize;
  batch.families[i] = to.family;
  batch.addrs.fill(0, 16 * i, 16 * i + 16);
  if (to.family === 4) batch.addrs.set([127, 0, 0, 1], 16 * i);
  else batch.addrs[16 * i + 15] = 1;
  batch.ports[i] = to.localPort;
}

/** Receives until `want` messages arrived or 2 s passed. */
function drain(rx: NativeUdpBind, want: number): { bytes: Buffer; seg: number; port: number }[] {
  const got: { bytes: Buffer; seg: number; port: number }[] = [];
  const batch = new PacketBatch(64, 65536 + 64);
  const wake = createWakeFd();
  const poller = createPoller(tunQueueFromFd(wake, false, 0), rx, wake);
  for (let turn = 0; turn < 200 && got.length < want; turn++) {
    if (!(poller.wait(10) & READY_UDP)) continue;
    const n = rx.recv(batch, 32);
    for (let i = 0; i < n; i++) {
      got.push({
        bytes: Buffer.from(batch.buf.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i])),
        seg: batch.segSizes[i],
        port: batch.ports[i],
      });
    }
  }
  closeFd(wake);
  return got;
}

describe('UDP batches over loopback', () => {
  it.each([4, 6] as const)('sends plain and GSO messages that arrive byte-exact (IPv%i)', (family) => {
    const tx = bind(false, family);
    const rx = bind(false, family);
    expect(tx.gso).toBe(true);
    const out = new PacketBatch(4, 65536);
    const plain = [payload(100, 1), payload(1400, 2)];
    const gso = payload(1200 * 5 + 77, 3);
    queue(out, 0, plain[0], 0, rx);
    queue(out, 1, gso, 1200, rx);
    queue(out, 2, plain[1], 0, rx);
    expect(tx.send(out, 3)).toBe(3);
    const got = drain(rx, 8);
    expect(got.map((g) => g.bytes.length)).toEqual([100, 1200, 1200, 1200, 1200, 1200, 77, 1400]);
    expect(Buffer.concat(got.slice(1, 7).map((g) => g.bytes)).equals(gso)).toBe(true);
    expect(got[7].bytes.equals(plain[1])).toBe(true);
    expect(got.every((g) => g.port === tx.localPort && g.seg === 0)).toBe(true);
  });

  it('reports the GSO segment size to a UDP_GRO receiver', () => {
    const tx = bind(false);
    const rx = bind(true);
    expect(rx.gro).toBe(true);
    const out = new PacketBatch(1, 65536);
    const gso = payload(1000 * 8, 4);
    queue(out, 0, gso, 1000, rx);
    expect(tx.send(out, 1)).toBe(1);
    const got = drain(rx, 1);
    expect(got).toHaveLength(1);
    expect(got[0].seg).toBe(1000);
    expect(got[0].bytes.equals(gso)).toBe(true);
  });

  it('cuts GSO messages into datagrams itself once gso is off', () => {
    const tx = bind(false);
    const rx = bind(false);
    tx.gso = false;
    const out = new PacketBatch(1, 65536);
    queue(out, 0, payload(3000, 5), 1400, rx);
    expect(tx.send(out, 1)).toBe(1);
    expect(drain(rx, 3).map((g) => g.bytes.length)).toEqual([1400, 1400, 200]);
  });
});

describe('batch bounds', () => {
  it('counts a datagram larger than its slot as truncated', () => {
    const tx = bind(false);
    const rx = bind(false);
    const out = new PacketBatch(1, 4096);
    queue(out, 0, payload(3000, 6), 0, rx);
    expect(tx.send(out, 1)).toBe(1);
    const small = new PacketBatch(4, 2048);
    for (let turn = 0; turn < 100 && rx.recv(small, 48) === 0; turn++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(small.count).toBe(1);
    expect(small.lengths[0]).toBe(2048 - 48);
    expect(rx.truncated).toBe(1);
  });

  it('reports a bind to an address this host lacks as VXTUN_ERR_UDP_SOCKET with the errno', () => {
    expect(() => openUdp({ family: 4, address: '198.51.100.7', port: 0, reusePort: false, bufferBytes: 0, gro: false })).toThrow(
      expect.objectContaining({ code: 'VXTUN_ERR_UDP_SOCKET', message: expect.stringContaining('EADDRNOTAVAIL') }),
    );
  });

  it('refuses a message that points outside the batch buffer instead of reading past it', () => {
    const tx = bind(false);
    const out = new PacketBatch(1, 256);
    queue(out, 0, payload(100, 7), 0, bind(false));
    out.lengths[0] = 300;
    expect(() => tx.send(out, 1)).toThrow(expect.objectContaining({ code: 'VXTUN_ERR_INVALID_ARGUMENT' }));
  });
});

describe('wake-ups', () => {
  it('one signal wakes exactly one wait', () => {
    const wake = createWakeFd();
    const rx = bind(false);
    const poller = createPoller(tunQueueFromFd(wake, false, 0), rx, wake);
    signalWake(wake);
    signalWake(wake);
    expect(poller.wait(1000) & READY_WAKE).toBe(READY_WAKE);
    expect(poller.wait(0)).toBe(0);
    closeFd(wake);
  });

  it('loads in two worker threads at once, and a poll blocked in one returns when another thread signals', async () => {
    loadNative();
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = require(workerData.addon);
      parentPort.postMessage({ type: 'waiting' });
      const ready = m.pollWait(-1, -1, workerData.fd, 5000);
      parentPort.postMessage({ type: 'woke', ready });`;
    const fds = [createWakeFd(), createWakeFd()];
    const workers = fds.map((fd) => new Worker(code, { eval: true, workerData: { addon: ADDON, fd } }));
    const results = await Promise.all(
      workers.map(async (w, i) => {
        const msgs: { type: string; ready?: number }[] = [];
        w.on('message', (m) => msgs.push(m));
        await once(w, 'message');
        await new Promise((r) => setTimeout(r, 50));
        signalWake(fds[i]);
        await once(w, 'exit');
        return msgs.at(-1)!;
      }),
    );
    fds.forEach(closeFd);
    for (const r of results) {
      expect(r.type).toBe('woke');
      // pollWait returns 0 when its 5 s timeout passes, so READY_WAKE means the other thread's signal ended the wait.
      expect(r.ready).toBe(READY_WAKE);
    }
  });
});
