/**
 * Malformed datagrams fired at the VXLAN port in the middle of a transfer: the transfer completes intact and the
 * receiver's drop counters account for every bad datagram, by reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { join } from 'node:path';
import { isRoot, ROOT, startStatic, tcpTransfer, type VxtunProc, pairConfig, pairMacs } from './harness.js';

const MB = 1024 * 1024;
const ROUNDS = 200;

describe.runIf(isRoot)('bad input at the VXLAN port', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = pairMacs();
  let strangerIp = '';

  beforeAll(async () => {
    tb = await createTestbed();
    const config = (self: 'a' | 'b') => pairConfig(tb, mac, self);
    procs.a = await startStatic(tb, 'a', config('a'));
    procs.b = await startStatic(tb, 'b', config('b'));
    // A second address on host a that holds no lease.
    strangerIp = tb.hosts.a.underlayIPv4.replace(/\.1$/, '.77');
    await tb.exec('a', ['ip', 'addr', 'add', `${strangerIp}/32`, 'dev', tb.hosts.a.dev]);
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('a 100 MB transfer completes intact while bad datagrams arrive, and every one is counted', async () => {
    const bad = (bind: string, only?: string) =>
      tb.exec(
        'a',
        [
          'node',
          join(ROOT, 'bench/faults/hostile-sender.mjs'),
          tb.hosts.b.underlayIp,
          '8472',
          '1',
          mac.b,
          '10.244.1.0',
          '10.244.2.0',
          String(ROUNDS),
          bind,
          ...(only ? [only] : []),
        ],
        { timeoutMs: 60_000 },
      );
    const [transfer, fromPeer, fromStranger] = await Promise.all([
      tcpTransfer(tb, 'a', 'b', '10.244.2.0', 100 * MB),
      bad(tb.hosts.a.underlayIp),
      bad(strangerIp, 'badFlags'),
    ]);
    expect(transfer.received).toEqual(transfer.sent);
    const sentByPeer = JSON.parse(fromPeer.stdout) as Record<string, number>;
    const sentByStranger = JSON.parse(fromStranger.stdout) as Record<string, number>;
    expect(sentByStranger.badFlags).toBe(ROUNDS);

    const s = await procs.b!.stop();
    procs.b = undefined;
    const { noRoute = 0, ...drops } = s.drops;
    expect(noRoute).toBeLessThan(10);
    expect(drops).toEqual({
      short: sentByPeer.short,
      badFlags: sentByPeer.badFlags + sentByPeer.random,
      wrongVni: sentByPeer.wrongVni,
      notOurMac: sentByPeer.notOurMac,
      badEthertype: sentByPeer.badEthertype,
      badInner: sentByPeer.badInner,
      spoofedSource: sentByPeer.spoofedSource,
      noPeer: sentByStranger.badFlags,
    });
  });
});
