/**
 * What a running forwarder does when its TUN is taken from under it: deleted, it exits non-zero at once with an
 * error code and its final stats; set down and up again, it restores the overlay route and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { isRoot, ping, startStatic, waitFor, type VxtunProc, pairConfig, pairMacs } from './harness.js';

describe.runIf(isRoot)('the TUN taken from under a running forwarder', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = pairMacs();
  const config = (self: 'a' | 'b') => pairConfig(tb, mac, self, { workers: 2 });

  beforeAll(async () => {
    tb = await createTestbed();
    procs.a = await startStatic(tb, 'a', config('a'));
    procs.b = await startStatic(tb, 'b', config('b'));
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
  });

  it('link down then up: the overlay route comes back, logged, and traffic flows again', async () => {
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
    await tb.exec('a', ['ip', 'link', 'set', 'vxtun0', 'down']);
    await procs.a!.waitForLog('TUN link is down', 1, 5_000);
    await tb.exec('a', ['ip', 'link', 'set', 'vxtun0', 'up']);
    await procs.a!.waitForLog('TUN link is up again', 1, 5_000);
    const routes = (await tb.exec('a', ['ip', '-4', 'route', 'show', 'dev', 'vxtun0'])).stdout;
    expect(routes).toMatch(/^10\.244\.0\.0\/16 /m);
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
  });

  it('TUN deleted: the forwarder exits with status 1, an error code and its final stats, within 5 s', async () => {
    const proc = procs.a!;
    procs.a = undefined;
    const started = Date.now();
    await tb.exec('a', ['ip', 'link', 'del', 'vxtun0']);
    const code = await Promise.race([proc.process.exited, new Promise((r) => setTimeout(() => r('still running'), 5_000))]);
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => proc.output().includes('VXTUN_ERR_LINK'), 2_000, 'the error line');
    expect(proc.output()).toMatch(/vxtun: VXTUN_ERR_LINK: .*vxtun0/);
    expect(proc.logs('final stats')).toHaveLength(1);
    expect(proc.logs('final stats')[0].stats).toHaveProperty('rxPackets');
  });
});
