/**
 * Two queue loops wired back to back over the fakes: what host A's TUN hands over comes out of host B's TUN,
 * with VXLAN on the "wire" in between. Kernel behaviour is tested in test/netns; this is the packet logic.
 */
import { describe, expect, it } from 'vitest';
import { QueueLoop } from '../../../dataplane/queue.js';
import { PeerTable, PeerView } from '../../../dataplane/routes.js';
import { DropReason } from '../../../dataplane/packet/drops.js';
import {
  PEER_ROW,
  P_LAST_RX,
  P_RX_BYTES,
  P_RX_PACKETS,
  P_TX_BYTES,
  P_TX_PACKETS,
  ROW,
  counterIndex,
  dropIndex,
} from '../../../dataplane/stats.js';
import type { LocalConfig } from '../../../dataplane/local.js';
import { FakePoller, FakeTunQueue, fakeUdpPair, type FakeUdpBind } from '../../../dataplane/sys/fake.js';
import { PacketBatch, READY_TUN, READY_UDP, type Poller } from '../../../dataplane/sys/types.js';
import { VirtioFlag, VirtioGso, VirtioHdr, readVirtioHdr, writeVirtioHdr, VIRTIO_NET_HDR_LEN } from '../../../dataplane/packet/virtio.js';
import { buildTcp, buildUdp, ip4, l4ChecksumValid, partialChecksum } from '../packet/helpers.js';

const MAC_A = Uint8Array.of(2, 0, 0, 0, 1, 1);
const MAC_B = Uint8Array.of(2, 0, 0, 0, 2, 1);

function host(name: 'a' | 'b', udp: FakeUdpBind, vnetHdr: boolean, offloadFlags?: number, poller?: Poller, stop?: Int32Array) {
  const self =
    name === 'a'
      ? { mac: MAC_A, subnet: '10.244.1.0/24', gw: ip4('10.244.1.0') }
      : { mac: MAC_B, subnet: '10.244.2.0/24', gw: ip4('10.244.2.0') };
  const other =
    name === 'a'
      ? { ip: '192.0.2.2', subnet: '10.244.2.0/24', mac: '02:00:00:00:02:01' }
      : { ip: '192.0.2.1', subnet: '10.244.1.0/24', mac: '02:00:00:00:01:01' };
  const cfg: LocalConfig = { vni: 1, port: 8472, family: 4, vtepMac: self.mac, gateway4: self.gw, gateway6: null, overlayMtu: 1450 };
  const table = new PeerTable(8);
  table.set([{ publicIp: other.ip, subnet: other.subnet, vtepMac: other.mac }]);
  const tun = new FakeTunQueue({ vnetHdr, offloadFlags });
  const stats = new Float64Array(ROW);
  const peerStats = new Float64Array(8 * PEER_ROW);
  const loop = new QueueLoop({
    cfg,
    tun,
    rx: udp,
    tx: [udp],
    poller: poller ?? new FakePoller(tun, udp),
    peers: new PeerView(table.sab),
    stats,
    peerStats,
    stop: stop ?? new Int32Array(1),
  });
  return { tun, stats, peerStats, loop, udp };
}

function pair(vnetHdr = true) {
  const [ua, ub] = fakeUdpPair();
  return { a: host('a', ua, vnetHdr), b: host('b', ub, vnetHdr) };
}

function withHdr(pkt: Uint8Array, hdr?: VirtioHdr): Uint8Array {
  const out = new Uint8Array(VIRTIO_NET_HDR_LEN + pkt.length);
  writeVirtioHdr(out, 0, hdr ?? new VirtioHdr());
  out.set(pkt, VIRTIO_NET_HDR_LEN);
  return out;
}

function payloadOf(pkt: Uint8Array): Uint8Array {
  const thl = (pkt[20 + 12] >> 4) * 4;
  return pkt.subarray(20 + thl);
}

const SRC = ip4('10.244.1.0');
const DST = ip4('10.244.2.0');

describe('queue loop over fakes', () => {
  it('a TSO super-packet crosses as VXLAN datagrams and comes out coalesced with the same payload', () => {
    const { a, b } = pair();
    const payload = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) & 0xff);
    const pkt = buildTcp({ family: 4, src: SRC, dst: DST, sport: 40000, dport: 5201, seq: 1000, ack: 5, flags: 0x18, payload });
    new DataView(pkt.buffer).setUint16(36, partialChecksum(pkt, 4));
    const h = new VirtioHdr();
    h.flags = VirtioFlag.NEEDS_CSUM;
    h.gsoType = VirtioGso.TCPV4;
    h.gsoSize = 1398;
    h.csumStart = 20;
    h.csumOffset = 16;
    a.tun.push(withHdr(pkt, h));
    expect(a.loop.turn()).toBe(true);
    const segs = Math.ceil(payload.length / 1398);
    expect(a.udp.wire.length).toBe(segs);
    for (const d of a.udp.wire) {
      expect(d.port).toBe(8472);
      expect([...d.addr]).toEqual([192, 0, 2, 2]);
      expect([...d.bytes.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
      expect([...d.bytes.subarray(8, 14)]).toEqual([...MAC_B]);
      expect([...d.bytes.subarray(14, 20)]).toEqual([...MAC_A]);
      expect(d.bytes.length).toBeLessThanOrEqual(22 + 1450);
      expect(l4ChecksumValid(d.bytes.subarray(22), 4)).toBe(true);
    }
    expect(b.loop.turn()).toBe(true);
    expect(b.tun.outbound.length).toBe(1);
    const out = b.tun.outbound[0];
    const oh = readVirtioHdr(out, 0, new VirtioHdr());
    expect(oh.gsoType).toBe(VirtioGso.TCPV4);
    expect(oh.gsoSize).toBe(1398);
    expect(Buffer.from(payloadOf(out.subarray(VIRTIO_NET_HDR_LEN)))).toEqual(Buffer.from(payload));
    expect(a.stats[counterIndex('txPackets')]).toBe(segs);
    expect(b.stats[counterIndex('rxPackets')]).toBe(segs);
    // The one peer's row (slot 0) counts the same as the totals, each way.
    expect([a.peerStats[P_TX_PACKETS], a.peerStats[P_TX_BYTES]]).toEqual([segs, a.stats[counterIndex('txBytes')]]);
    expect([b.peerStats[P_RX_PACKETS], b.peerStats[P_RX_BYTES]]).toEqual([segs, b.stats[counterIndex('rxBytes')]]);
    expect(a.stats[counterIndex('txBytes')]).toBe(payload.length + segs * 40);
    expect(Math.abs(Date.now() - b.peerStats[P_LAST_RX])).toBeLessThan(5_000);
    expect(a.peerStats[P_LAST_RX]).toBe(0);
  });

  it('works the same without a virtio header (offloads off): one datagram and one TUN write per packet', () => {
    const { a, b } = pair(false);
    const pkt = buildUdp(
      4,
      SRC,
      DST,
      1000,
      2000,
      Uint8Array.from({ length: 600 }, (_, i) => i & 0xff),
    );
    a.tun.push(pkt);
    a.tun.push(pkt);
    a.loop.turn();
    b.loop.turn();
    expect(b.tun.outbound.map((p) => Buffer.from(p))).toEqual([Buffer.from(pkt), Buffer.from(pkt)]);
  });

  it('small packets of one length to one peer go out as one UDP_SEGMENT message per run, in order, intact', () => {
    const { a, b } = pair();
    const small = (k: number, len = 64) =>
      buildUdp(
        4,
        SRC,
        DST,
        1000,
        2000,
        Uint8Array.from({ length: len }, (_, i) => (i + 13 * k) & 0xff),
      );
    // A run of 5, one of another length, a run of 5: three messages, eleven datagrams.
    const pkts = [0, 1, 2, 3, 4]
      .map((k) => small(k))
      .concat(
        [small(5, 100)],
        [6, 7, 8, 9, 10].map((k) => small(k)),
      );
    for (const p of pkts) a.tun.push(withHdr(p));
    expect(a.loop.turn()).toBe(true);
    expect(a.udp.wire.map((d) => Buffer.from(d.bytes.subarray(22)))).toEqual(pkts.map((p) => Buffer.from(p)));
    for (const d of a.udp.wire) expect([...d.bytes.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
    expect(b.udp.pending).toBe(3);
    expect(a.stats[counterIndex('txDatagrams')]).toBe(11);
    expect(a.stats[counterIndex('txSyscalls')]).toBe(1);
    b.loop.turn();
    // Written to the TUN for the kernel to finish the UDP checksum (NEEDS_CSUM): compare all but that field.
    const noCsum = (p: Uint8Array) => Buffer.concat([p.subarray(0, 26), p.subarray(28)]);
    expect(b.tun.outbound.map((p) => noCsum(p.subarray(VIRTIO_NET_HDR_LEN)))).toEqual(pkts.map(noCsum));
    expect(b.stats[counterIndex('rxPackets')]).toBe(11);
    expect([a.peerStats[P_TX_PACKETS], b.peerStats[P_RX_PACKETS]]).toEqual([11, 11]);
  });

  it('where the TUN takes USO, each run reaches it as one UDP_L4 packet with the same payloads in order', () => {
    const [ua, ub] = fakeUdpPair();
    const a = host('a', ua, true);
    const b = host('b', ub, true, 0x07 | 0x20 | 0x40);
    const small = (k: number, len = 64) =>
      buildUdp(
        4,
        SRC,
        DST,
        1000,
        2000,
        Uint8Array.from({ length: len }, (_, i) => (i + 13 * k) & 0xff),
      );
    const pkts = [0, 1, 2, 3, 4]
      .map((k) => small(k))
      .concat(
        [small(5, 100)],
        [6, 7, 8, 9, 10].map((k) => small(k)),
      );
    for (const p of pkts) a.tun.push(withHdr(p));
    a.loop.turn();
    b.loop.turn();
    // 5 x 64; then 100 + 64 (a shorter datagram may end a run); then 4 x 64.
    const hdrs = b.tun.outbound.map((p) => readVirtioHdr(p, 0, new VirtioHdr()));
    expect(hdrs.map((h) => [h.gsoType, h.gsoSize])).toEqual([
      [VirtioGso.UDP_L4, 64],
      [VirtioGso.UDP_L4, 100],
      [VirtioGso.UDP_L4, 64],
    ]);
    // What the kernel will hand the receiving socket: each packet's payload cut at gso_size.
    const datagrams = b.tun.outbound.flatMap((p, i) => {
      const body = p.subarray(VIRTIO_NET_HDR_LEN + 28);
      return Array.from({ length: Math.ceil(body.length / hdrs[i].gsoSize) }, (_, k) =>
        Buffer.from(body.subarray(k * hdrs[i].gsoSize, (k + 1) * hdrs[i].gsoSize)),
      );
    });
    expect(datagrams).toEqual(pkts.map((p) => Buffer.from(p.subarray(28))));
    expect(b.stats[counterIndex('rxPackets')]).toBe(11);
    expect(b.stats[counterIndex('tunWrites')]).toBe(3);
  });

  it('a run never crosses peers: each datagram goes to the host that owns its inner destination', () => {
    const [ua] = fakeUdpPair();
    const cfg: LocalConfig = {
      vni: 1,
      port: 8472,
      family: 4,
      vtepMac: MAC_A,
      gateway4: ip4('10.244.1.0'),
      gateway6: null,
      overlayMtu: 1450,
    };
    const table = new PeerTable(8);
    table.set([
      { publicIp: '192.0.2.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:02:01' },
      { publicIp: '192.0.2.3', subnet: '10.244.3.0/24', vtepMac: '02:00:00:00:03:01' },
    ]);
    const tun = new FakeTunQueue({ vnetHdr: true });
    const loop = new QueueLoop({
      cfg,
      tun,
      rx: ua,
      tx: [ua],
      poller: new FakePoller(tun, ua),
      peers: new PeerView(table.sab),
      stats: new Float64Array(ROW),
      stop: new Int32Array(1),
    });
    // Same length throughout: 2, 3, 3, 2, 2, 2, 3 (by third octet of the destination).
    const order = [2, 3, 3, 2, 2, 2, 3];
    for (const [k, net] of order.entries())
      tun.push(withHdr(buildUdp(4, SRC, ip4(`10.244.${net}.9`), 1000, 2000, new Uint8Array(64).fill(k))));
    loop.turn();
    expect(ua.wire.map((d) => [d.addr[3], d.bytes[22 + 18]])).toEqual(order.map((net) => [net, net]));
    expect(ua.wire.map((d) => d.bytes[22 + 28])).toEqual(order.map((_, k) => k));
    expect(ua.wire.map((d) => d.bytes[8 + 4])).toEqual(order.map((net) => net)); // inner dst MAC = that peer's VTEP
    expect(ua.peer!.pending).toBe(4);
  });

  it('without UDP_SEGMENT the same packets go out one message each', () => {
    const [ua, ub] = fakeUdpPair({ gso: false });
    const a = host('a', ua, true);
    const b = host('b', ub, true);
    const pkt = buildUdp(4, SRC, DST, 1000, 2000, new Uint8Array(64).fill(7));
    for (let k = 0; k < 6; k++) a.tun.push(withHdr(pkt));
    a.loop.turn();
    expect(b.udp.pending).toBe(6);
    b.loop.turn();
    expect(b.tun.outbound.length).toBe(6);
  });

  it('a packet to a subnet no peer owns is dropped and counted, not sent', () => {
    const { a } = pair();
    a.tun.push(withHdr(buildUdp(4, SRC, ip4('10.244.7.1'), 1, 2, new Uint8Array(10))));
    a.loop.turn();
    expect(a.udp.wire.length).toBe(0);
    expect(a.stats[dropIndex(DropReason.NO_ROUTE)]).toBe(1);
  });

  it('a too-big packet with DF gets ICMP fragmentation-needed back into the TUN', () => {
    const { a } = pair();
    const big = buildTcp({ family: 4, src: SRC, dst: DST, sport: 1, dport: 2, seq: 1, ack: 1, flags: 0x10, payload: new Uint8Array(2000) });
    a.tun.push(withHdr(big));
    a.loop.turn();
    expect(a.udp.wire.length).toBe(0);
    expect(a.tun.outbound.length).toBe(1);
    const icmp = a.tun.outbound[0].subarray(VIRTIO_NET_HDR_LEN);
    expect(icmp[9]).toBe(1); // ICMP
    expect([...icmp.subarray(16, 20)]).toEqual([...SRC]); // back to the sender
    expect([icmp[20], icmp[21]]).toEqual([3, 4]); // destination unreachable, fragmentation needed
    expect((icmp[26] << 8) | icmp[27]).toBe(1450); // next-hop MTU
    expect(a.stats[dropIndex(DropReason.TOO_BIG)]).toBe(1);
  });

  it('a datagram cut short by the receive slot (MSG_TRUNC) is counted as a truncated drop', () => {
    const { a, b } = pair();
    const big = new PacketBatch(1, 80_000);
    big.offsets[0] = 0;
    big.lengths[0] = 70_000;
    big.segSizes[0] = 0;
    big.families[0] = 4;
    a.udp.send(big, 1);
    expect(b.loop.turn()).toBe(true);
    expect(b.stats[dropIndex(DropReason.TRUNCATED)]).toBe(1);
  });
});

/**
 * runUntilStopped over the fakes with a scripted poller that behaves like poll(): wait() reports what is queued;
 * when nothing is, the queue "sleeps" and the next step runs (it may queue packets); after the last step it stops
 * the loop. `reads` counts the reads of each source from one wait() to the next.
 */
function scripted(name: 'a' | 'b', udp: FakeUdpBind, steps: (() => void)[]) {
  const stop = new Int32Array(1);
  const reads: { tun: number; udp: number }[] = [{ tun: 0, udp: 0 }];
  let h: ReturnType<typeof host> | undefined;
  let step = 0;
  const poller: Poller = {
    wait: () => {
      const queued = () => (h!.tun.inbound.length > 0 ? READY_TUN : 0) | (h!.udp.pending > 0 ? READY_UDP : 0);
      // Something still queued: poll() returns at once. Otherwise the queue sleeps until the next step.
      if (queued() === 0) {
        if (step === steps.length) {
          Atomics.store(stop, 0, 1);
          return 0;
        }
        steps[step++]();
      }
      reads.push({ tun: 0, udp: 0 });
      return queued();
    },
    wake: () => {},
    close: () => {},
  };
  h = host(name, udp, true, undefined, poller, stop);
  const tunRead = h.tun.read.bind(h.tun);
  const udpRecv = h.udp.recv.bind(h.udp);
  h.tun.read = (batch, headroom) => {
    reads[reads.length - 1].tun++;
    return tunRead(batch, headroom);
  };
  h.udp.recv = (batch, headroom) => {
    reads[reads.length - 1].udp++;
    return udpRecv(batch, headroom);
  };
  return { ...h, reads };
}

describe('queue loop wake-ups (sparse traffic: a ping, a request/response)', () => {
  const ping = (k: number, src = SRC, dst = DST) =>
    withHdr(
      buildUdp(
        4,
        src,
        dst,
        40000,
        7,
        Uint8Array.from({ length: 56 }, (_, i) => (i + k) & 0xff),
      ),
    );

  it('a lone packet from the TUN is sent after one read of the TUN and no receive, then the queue sleeps', () => {
    const [ua, ub] = fakeUdpPair();
    const a = scripted('a', ua, [() => a.tun.push(ping(1)), () => a.tun.push(ping(2))]);
    a.loop.runUntilStopped();
    expect(ub.pending).toBe(2);
    // reads[0]: the pass at start; reads[1], reads[2]: after each wake-up, until the next sleep.
    expect(a.reads).toEqual([
      { tun: 1, udp: 1 },
      { tun: 1, udp: 0 },
      { tun: 1, udp: 0 },
    ]);
  });

  it('a lone datagram is written to the TUN after one receive, and the answer the kernel queues goes out after one more read', () => {
    const [ua, ub] = fakeUdpPair();
    const a = host('a', ua, true);
    const b = scripted('b', ub, [
      () => {
        a.tun.push(ping(3));
        a.loop.turn();
      },
    ]);
    // The kernel answers what is written to the TUN at once (an echo reply), into the same TUN queue.
    const write = b.tun.write.bind(b.tun);
    b.tun.write = (batch, count) => {
      const n = write(batch, count);
      b.tun.push(ping(4, DST, SRC));
      return n;
    };
    b.loop.runUntilStopped();
    expect(b.tun.outbound.length).toBe(1);
    expect(ua.pending).toBe(1);
    // Wake-up 1: the receive; wake-up 2 (poll returns at once: the answer is queued): the TUN read.
    expect(b.reads).toEqual([
      { tun: 1, udp: 1 },
      { tun: 0, udp: 1 },
      { tun: 1, udp: 0 },
    ]);
  });

  it('a busy pass is followed by another pass over both sources before the queue sleeps', () => {
    const [ua] = fakeUdpPair();
    const a = scripted('a', ua, [() => [1, 2, 3, 4, 5].forEach((k) => a.tun.push(ping(k)))]);
    a.loop.runUntilStopped();
    expect(ua.wire.length).toBe(5);
    expect(a.reads).toEqual([
      { tun: 1, udp: 1 },
      { tun: 2, udp: 1 },
    ]);
  });
});
