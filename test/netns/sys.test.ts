/**
 * The native shim against the kernel, in two fresh namespaces joined by a veth pair (bench/testbed):
 * a multi-queue vnet_hdr TUN configured as `ip` reports it, TSO super-packets read from it, a TCP stream crossing
 * two TUNs intact, UDP GSO sends cut into datagrams for a plain receiver, and UDP GRO receives with a segment size.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { withNetns } from '../../dataplane/sys/netns.js';
import { createPoller, createWakeFd, closeFd } from '../../dataplane/sys/poll.js';
import { configureLink, openTun, type OpenedTun } from '../../dataplane/sys/tun.js';
import { PacketBatch, READY_UDP, type TunQueue } from '../../dataplane/sys/types.js';
import { openUdp, type NativeUdpBind } from '../../dataplane/sys/udp.js';
import { collect, isRoot, tcpTransfer, tool, waitFor } from './harness.js';
import { setTimeout as sleep } from 'node:timers/promises';

const VIRTIO_GSO_TCPV4 = 1;
const TUN_F_TSO4 = 0x02;
const TUN_MTU = 1400;

interface Overlay {
  tun: OpenedTun;
  addr4: string;
  addr6: string;
}

async function ipJson(tb: Testbed, host: 'a' | 'b', args: string[]): Promise<any[]> {
  return JSON.parse((await tb.exec(host, ['ip', '-j', ...args])).stdout);
}

/** Opens a 2-queue vnet_hdr TUN in the host's namespace, configured like the dataplane does it. */
function overlayOn(tb: Testbed, host: 'a' | 'b', index: number): Overlay {
  const addr4 = `10.201.${index}.0`;
  const addr6 = `fd99:201:${index}::`;
  const tun = withNetns(tb.hosts[host].netns, () => {
    const t = openTun({ name: `${tb.prefix}t${host}`, multiQueue: true, vnetHdr: true, queues: 2 });
    const cfg = {
      mtu: TUN_MTU,
      addresses: [
        { family: 4 as const, addr: addr4, prefixLen: 32 },
        { family: 6 as const, addr: addr6, prefixLen: 128 },
      ],
      routes: [
        { family: 4 as const, dst: '10.201.0.0', prefixLen: 16 },
        { family: 6 as const, dst: 'fd99:201::', prefixLen: 32 },
      ],
    };
    configureLink(t.name, cfg);
    configureLink(t.name, cfg); // a restart over the same device must not fail on what already exists
    return t;
  });
  return { tun, addr4, addr6 };
}

/** Moves packets both ways between two TUNs until stop() (bounded by timeoutMs); records what the reads looked like. */
function bridge(a: TunQueue[], b: TunQueue[], timeoutMs: number) {
  const seen = { reads: 0, gsoTcp4: 0, largest: 0, written: 0 };
  let stopped = false;
  const batch = new PacketBatch(64, 10 + 65536);
  const done = (async () => {
    const deadline = Date.now() + timeoutMs;
    while (!stopped && Date.now() < deadline) {
      let moved = 0;
      for (const [from, to] of [...a.map((q) => [q, b[0]] as const), ...b.map((q) => [q, a[0]] as const)]) {
        const n = from.read(batch, 0);
        for (let i = 0; i < n; i++) {
          seen.reads++;
          seen.largest = Math.max(seen.largest, batch.lengths[i] - 10);
          if (batch.buf[batch.offsets[i] + 1] === VIRTIO_GSO_TCPV4) seen.gsoTcp4++;
        }
        if (n > 0) seen.written += to.write(batch, n);
        moved += n;
      }
      await (moved > 0 ? new Promise((r) => setImmediate(r)) : sleep(1));
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** `count` datagrams "<seq>:<filler>" of `size` bytes each, laid back to back (the last one is shorter). */
function datagrams(count: number, size: number, lastSize: number): { bytes: Buffer; sha256: string } {
  const parts: Buffer[] = [];
  const hash = createHash('sha256');
  for (let seq = 0; seq < count; seq++) {
    const head = Buffer.from(`${seq}:`);
    const body = Buffer.alloc((seq === count - 1 ? lastSize : size) - head.length, 97 + (seq % 26));
    hash.update(body);
    parts.push(head, body);
  }
  return { bytes: Buffer.concat(parts), sha256: hash.digest('hex') };
}

function gsoMessage(bytes: Buffer, segSize: number, to4: string, port: number): PacketBatch {
  const batch = new PacketBatch(1, 65536);
  bytes.copy(batch.buf, 0);
  batch.offsets[0] = 0;
  batch.lengths[0] = bytes.length;
  batch.segSizes[0] = segSize;
  batch.families[0] = 4;
  batch.addrs.set(to4.split('.').map(Number), 0);
  batch.ports[0] = port;
  return batch;
}

describe.skipIf(!isRoot)('native shim in network namespaces (skipped unless root: it creates namespaces and TUN devices)', () => {
  let tb: Testbed;
  let a: Overlay;
  let b: Overlay;
  const binds: NativeUdpBind[] = [];

  beforeAll(async () => {
    // nic profile: GRO and rx-udp-gro-forwarding on the veths, so coalesced UDP reaches a UDP_GRO socket.
    tb = await createTestbed({ offloadProfile: 'nic' });
    a = overlayOn(tb, 'a', 1);
    b = overlayOn(tb, 'b', 2);
  });

  afterAll(async () => {
    for (const q of [...(a?.tun.queues ?? []), ...(b?.tun.queues ?? [])]) q.close();
    for (const s of binds) s.close();
    await tb?.destroy();
  });

  it('opens a multi-queue vnet_hdr TUN with TSO and configures it as `ip` reports', async () => {
    const fds = a.tun.queues.map((q) => q.fd);
    expect(new Set(fds).size).toBe(2);
    expect(a.tun.queues.every((q) => q.vnetHdr && (q.offloadFlags & TUN_F_TSO4) !== 0)).toBe(true);
    const [link] = await ipJson(tb, 'a', ['-d', 'link', 'show', 'dev', a.tun.name]);
    expect(link.mtu).toBe(TUN_MTU);
    expect(link.flags).toContain('UP');
    expect(link.linkinfo.info_data).toMatchObject({ type: 'tun', pi: false, vnet_hdr: true, multi_queue: true });
    const [addrs] = await ipJson(tb, 'a', ['addr', 'show', 'dev', a.tun.name]);
    const local = addrs.addr_info.map((x: { local: string; prefixlen: number }) => `${x.local}/${x.prefixlen}`);
    expect(local).toEqual(expect.arrayContaining([`${a.addr4}/32`, `${a.addr6}/128`]));
    const r4 = await ipJson(tb, 'a', ['route', 'show', 'dev', a.tun.name]);
    expect(r4.map((r: { dst: string }) => r.dst)).toContain('10.201.0.0/16');
    const r6 = await ipJson(tb, 'a', ['-6', 'route', 'show', 'dev', a.tun.name]);
    expect(r6.map((r: { dst: string }) => r.dst)).toContain('fd99:201::/32');
  });

  it('reports kernel refusals with the area code and the errno', () => {
    withNetns(tb.hosts.a.netns, () => {
      // The device exists as multi-queue: reopening it single-queue is refused by the kernel.
      expect(() => openTun({ name: a.tun.name, multiQueue: false, vnetHdr: true, queues: 1 })).toThrow(
        expect.objectContaining({ code: 'VXTUN_ERR_TUN_OPEN', message: expect.stringContaining('EINVAL') }),
      );
      expect(() => configureLink(`${tb.prefix}none`, { mtu: 1400, addresses: [], routes: [] })).toThrow(
        expect.objectContaining({ code: 'VXTUN_ERR_LINK', message: expect.stringContaining('ENODEV') }),
      );
    });
  });

  it('carries a TCP stream between two TUNs intact, reading TSO super-packets', async () => {
    const link = bridge(a.tun.queues, b.tun.queues, 60_000);
    try {
      const { sent, received } = await tcpTransfer(tb, 'a', 'b', b.addr4, 16 << 20, 5201, 50_000);
      expect(received.sha256).toBe(sent.sha256);
      expect(received.bytes).toBe(16 << 20);
    } finally {
      await link.stop();
    }
    expect(link.seen.gsoTcp4).toBeGreaterThan(0);
    expect(link.seen.largest).toBeGreaterThan(TUN_MTU);
    expect(link.seen.written).toBe(link.seen.reads);
  });

  it('sends one UDP_SEGMENT message that a plain receiver gets as N datagrams', async () => {
    const tx = withNetns(tb.hosts.a.netns, () =>
      openUdp({ family: 4, address: tb.hosts.a.underlayIPv4, port: 0, reusePort: false, bufferBytes: 1 << 20, gro: false }),
    );
    binds.push(tx);
    expect(tx.gso).toBe(true);
    const n = 20;
    const { bytes, sha256 } = datagrams(n, 1000, 400);
    const sink = tb.spawn('b', ['node', tool('udp-sink.mjs'), '0.0.0.0', '5300', String(n), '10000']);
    const out = collect(sink.child);
    await waitFor(() => out.err().includes('listening'), 10_000, 'udp-sink listening');
    expect(tx.send(gsoMessage(bytes, 1000, tb.hosts.b.underlayIPv4, 5300), 1)).toBe(1);
    await waitFor(() => out.out().includes('sha256'), 15_000, 'udp-sink result');
    const got = JSON.parse(out.out().trim());
    expect(got).toEqual({ received: n, distinct: n, sha256 });
  });

  it('receives coalesced datagrams with UDP_GRO and reports their segment size', async () => {
    const rx = withNetns(tb.hosts.b.netns, () =>
      openUdp({ family: 4, address: tb.hosts.b.underlayIPv4, port: 0, reusePort: true, bufferBytes: 4 << 20, gro: true }),
    );
    const tx = withNetns(tb.hosts.a.netns, () =>
      openUdp({ family: 4, address: tb.hosts.a.underlayIPv4, port: 0, reusePort: false, bufferBytes: 1 << 20, gro: false }),
    );
    binds.push(rx, tx);
    expect(rx.gro).toBe(true);
    const { bytes } = datagrams(10, 1200, 1200);
    expect(tx.send(gsoMessage(bytes, 1200, tb.hosts.b.underlayIPv4, rx.localPort), 1)).toBe(1);
    const wake = createWakeFd();
    const poller = createPoller(a.tun.queues[0], rx, wake);
    const batch = new PacketBatch(8, 65536);
    const got: { seg: number; bytes: Buffer; port: number }[] = [];
    for (let turn = 0; turn < 40 && got.reduce((s, g) => s + g.bytes.length, 0) < bytes.length; turn++) {
      if (!(poller.wait(50) & READY_UDP)) continue;
      const m = rx.recv(batch, 64);
      for (let i = 0; i < m; i++) {
        got.push({
          seg: batch.segSizes[i],
          bytes: Buffer.from(batch.buf.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i])),
          port: batch.ports[i],
        });
      }
    }
    closeFd(wake);
    expect(Buffer.concat(got.map((g) => g.bytes)).equals(bytes)).toBe(true);
    expect(got.length).toBeLessThan(10);
    expect(got[0].seg).toBe(1200);
    expect(got[0].port).toBe(tx.localPort);
  });
});
