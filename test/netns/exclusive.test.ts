/**
 * One instance owns a TUN name and a VXLAN port in its network namespace: a second `vxtun static` with the same
 * TUN name, or on the same port, is refused with a code and leaves the first one untouched (its address, its
 * traffic); the same names in another namespace are fine; after kill -9 the same config starts again at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, writeStaticConfig, type Testbed } from '../../bench/testbed/index.js';
import { CLI, isRoot, ping, startStatic, udpTransfer, type VxtunProc, pairConfig, pairMacs } from './harness.js';

describe.runIf(isRoot)('exclusive ownership of the TUN name and the VXLAN port', () => {
  let tb: Testbed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = pairMacs();
  const dir = mkdtempSync(join(tmpdir(), 'vxtun-exclusive-'));
  // Both hosts use the same TUN name and port: they live in different namespaces.
  const config = (self: 'a' | 'b') => pairConfig(tb, mac, self, { tunName: 'vxtun0', port: 8472, workers: 2, stateDir: join(dir, self) });

  /** Runs a second `vxtun static` on host a to completion (at most 10 s); returns its exit code and output. */
  async function second(overrides: object) {
    const file = join(dir, 'second.json');
    writeStaticConfig(file, { ...config('a'), subnet: '10.244.9.0/24', stateDir: join(dir, 'second'), ...overrides });
    const r = await tb.exec('a', ['node', CLI, 'static', '--config', file], { allowFail: true, timeoutMs: 10_000 });
    return { code: r.code, output: r.stdout + r.stderr };
  }

  beforeAll(async () => {
    tb = await createTestbed();
    procs.a = await startStatic(tb, 'a', config('a'));
    procs.b = await startStatic(tb, 'b', config('b'));
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await tb?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second instance with the same TUN name is refused and the first keeps its address and traffic', async () => {
    const r = await second({ port: 8473 });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/VXTUN_ERR_TUN_IN_USE: .*vxtun0/);
    const addr = JSON.parse((await tb.exec('a', ['ip', '-j', '-4', 'addr', 'show', 'dev', 'vxtun0'])).stdout) as {
      addr_info: { local: string }[];
    }[];
    expect(addr[0].addr_info.map((a) => a.local)).toEqual(['10.244.1.0']);
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
  });

  it('a second instance on the same VXLAN port is refused and every datagram still reaches the first', async () => {
    const r = await second({ tunName: 'vxtun1' });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/VXTUN_ERR_PORT_IN_USE: .*8472/);
    const t = await udpTransfer(tb, 'b', 'a', '10.244.1.0', 2000, 1000);
    expect(t.received.sha256).toBe(t.sent.sha256);
  });

  it('after kill -9 the same configuration starts again at once and forwards', async () => {
    procs.a!.signal('SIGKILL');
    await procs.a!.process.exited;
    procs.a = undefined;
    procs.a = await startStatic(tb, 'a', config('a'));
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
  });

  it('a TUN of that name left behind without an owner (made persistent) is reused, with a warning', async () => {
    await procs.a!.stop();
    procs.a = undefined;
    await tb.exec('a', ['ip', 'tuntap', 'add', 'dev', 'vxtun0', 'mode', 'tun', 'multi_queue', 'vnet_hdr']);
    procs.a = await startStatic(tb, 'a', config('a'));
    expect(procs.a.logs('TUN device exists though no vxtun owns it')).toHaveLength(1);
    expect(await ping(tb, 'a', '10.244.2.0')).toBe(3);
  });
});
