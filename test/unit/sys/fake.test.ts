import { describe, expect, it } from 'vitest';
import { FakePoller, FakeTunQueue, fakeUdpPair } from '../../../dataplane/sys/fake.js';
import { PacketBatch, READY_TUN, READY_UDP, READY_WAKE } from '../../../dataplane/sys/types.js';

function payload(len: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff));
}

function message(batch: PacketBatch, i: number, bytes: Buffer, segSize: number, addr: Uint8Array, port: number): void {
  const off = batch.slotStart(i) + 50;
  bytes.copy(batch.buf, off);
  batch.offsets[i] = off;
  batch.lengths[i] = bytes.length;
  batch.segSizes[i] = segSize;
  batch.families[i] = addr.length === 4 ? 4 : 6;
  batch.addrs.set(addr, 16 * i);
  batch.ports[i] = port;
}

describe('FakeTunQueue', () => {
  it('reads pushed packets into slots after the headroom, at most capacity per call', () => {
    const tun = new FakeTunQueue({ vnetHdr: true });
    const pkts = [payload(100, 1), payload(1500, 2), payload(60, 3)];
    pkts.forEach((p) => tun.push(p));
    const batch = new PacketBatch(2, 2048);
    expect(tun.read(batch, 64)).toBe(2);
    expect(batch.offsets[1]).toBe(2048 + 64);
    expect(batch.buf.subarray(batch.offsets[1], batch.offsets[1] + batch.lengths[1]).equals(pkts[1])).toBe(true);
    expect(tun.read(batch, 64)).toBe(1);
    expect(batch.lengths[0]).toBe(60);
    expect(tun.read(batch, 64)).toBe(0);
    expect(tun.offloadFlags).toBe(0x07);
  });

  it('records written packets and refuses those beyond writeRoom', () => {
    const tun = new FakeTunQueue();
    const batch = new PacketBatch(3, 256);
    for (let i = 0; i < 3; i++) message(batch, i, payload(80 + i, i), 0, Uint8Array.of(0, 0, 0, 0), 0);
    tun.writeRoom = 2;
    expect(tun.write(batch, 3)).toBe(2);
    expect(tun.outbound.map((p) => p.length)).toEqual([80, 81]);
    expect(tun.outbound[1].equals(payload(81, 1))).toBe(true);
  });
});

describe('fakeUdpPair', () => {
  const dst = Uint8Array.of(192, 0, 2, 2);

  it('delivers a GSO message as one coalesced message to a GRO peer, and as datagrams on the wire', () => {
    const [a, b] = fakeUdpPair({ gro: true });
    const out = new PacketBatch(2, 70000);
    message(out, 0, payload(1000 * 4 + 300, 9), 1000, dst, 8472);
    message(out, 1, payload(200, 8), 0, dst, 8472);
    expect(a.send(out, 2)).toBe(2);
    expect(a.wire.map((d) => d.bytes.length)).toEqual([1000, 1000, 1000, 1000, 300, 200]);
    const inb = new PacketBatch(4, 70000);
    expect(b.recv(inb, 16)).toBe(2);
    expect(inb.segSizes[0]).toBe(1000);
    expect(inb.lengths[0]).toBe(4300);
    expect(inb.buf.subarray(inb.offsets[0], inb.offsets[0] + 4300).equals(payload(4300, 9))).toBe(true);
    expect([...inb.addrs.subarray(0, 4)]).toEqual([192, 0, 2, 1]);
    expect(inb.ports[0]).toBe(8472);
  });

  it('splits for a peer without GRO, and falls back when GSO fails', () => {
    const [a, b] = fakeUdpPair({ gro: false });
    a.failGso = true;
    const out = new PacketBatch(1, 70000);
    message(out, 0, payload(2500, 4), 1000, dst, 8472);
    expect(a.send(out, 1)).toBe(1);
    expect(a.gso).toBe(false);
    const inb = new PacketBatch(8, 2048);
    expect(b.recv(inb, 0)).toBe(3);
    expect(Array.from(inb.lengths.subarray(0, 3))).toEqual([1000, 1000, 500]);
    expect(Array.from(inb.segSizes.subarray(0, 3))).toEqual([0, 0, 0]);
  });
});

describe('FakePoller', () => {
  it('reports what is ready and a wake exactly once', () => {
    const tun = new FakeTunQueue();
    const [a, b] = fakeUdpPair();
    const poller = new FakePoller(tun, b);
    expect(poller.wait(10)).toBe(0);
    tun.push(payload(40, 0));
    const out = new PacketBatch(1, 256);
    message(out, 0, payload(40, 1), 0, Uint8Array.of(192, 0, 2, 2), 8472);
    a.send(out, 1);
    poller.wake();
    expect(poller.wait(10)).toBe(READY_TUN | READY_UDP | READY_WAKE);
    expect(poller.wait(10)).toBe(READY_TUN | READY_UDP);
  });
});
