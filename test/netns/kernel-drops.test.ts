/**
 * Packets the kernel drops on vxtun's behalf are reported beside vxtun's own drop reasons, with the kernel's
 * numbers: the TUN's transmit-queue drops (a fragment burst faster than the queue is read) and the receive
 * socket's overflows (SO_RXQ_OVFL; a receive buffer far too small for the traffic).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, udpTransfer, type VxtunProc, pairConfig, pairMacs } from './harness.js';

/** The TUN's transmit drops as /proc/net/dev of the namespace reports them. */
async function tunTxDropped(tb: Testbed, host: 'a' | 'b'): Promise<number> {
  const line = (await tb.exec(host, ['cat', '/proc/net/dev'])).stdout.split('\n').find((l) => l.trim().startsWith('vxtun0:'));
  return Number(line!.split(':')[1].trim().split(/\s+/)[11]);
}

/** Drops of the UDP sockets bound to port 8472 (the drops column of /proc/net/udp). */
async function vxlanSocketDrops(tb: Testbed, host: 'a' | 'b'): Promise<number> {
  const rows = (await tb.exec(host, ['cat', '/proc/net/udp'])).stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '');
  return rows
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1].endsWith(':2118'))
    .reduce((n, f) => n + Number(f[12]), 0);
}

describe.runIf(isRoot)("kernel drops reported beside vxtun's", () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = pairMacs();
  const config = (self: 'a' | 'b') => pairConfig(tb, mac, self, { workers: 1 });

  beforeAll(async () => {
    tb = await createTestbed();
    procs.a = await startStatic(tb, 'a', config('a'));
    // A receive buffer far below what a burst needs, so the socket overflows.
    procs.b = await startStatic(tb, 'b', { ...config('b'), udpBufferBytes: 65536 });
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('TUN transmit-queue drops and receive-socket overflows appear in the final stats as the kernel counts them', async () => {
    // 60 KB datagrams leave as 42 fragments each, 50 datagrams at a time: more than the TUN's queue holds.
    await udpTransfer(tb, 'a', 'b', '10.244.2.0', 400, 60_000, 5300, 2_000);
    // One more message per receive socket afterwards, so SO_RXQ_OVFL reports the final count.
    expect(await ping(tb, 'a', '10.244.2.0')).toBeGreaterThan(0);
    const tunDrops = await tunTxDropped(tb, 'a');
    const socketDrops = await vxlanSocketDrops(tb, 'b');
    expect(tunDrops).toBeGreaterThan(0);
    expect(socketDrops).toBeGreaterThan(0);
    const a = await procs.a!.stop();
    procs.a = undefined;
    const b = await procs.b!.stop();
    procs.b = undefined;
    expect((a as unknown as { kernelDrops: Record<string, number> }).kernelDrops.tunTxQueue).toBe(tunDrops);
    expect((b as unknown as { kernelDrops: Record<string, number> }).kernelDrops.socketOverflow).toBe(socketDrops);
  });
});
