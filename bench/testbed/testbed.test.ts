import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestbed, overlayPlan, setupFlannelVxlan, type Testbed } from './index.js';
import { run, type TrackedProcess } from './process.js';
import { isRoot } from '../../test/netns/harness.js';
import { setTimeout as sleep } from 'node:timers/promises';

async function namespaces(): Promise<string[]> {
  const { stdout } = await run(['ip', 'netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name !== '');
}

/** Waits (bounded) until a capture has reported that it listens, so no packet is sent before it can see it. */
async function waitListening(capture: TrackedProcess): Promise<void> {
  for (let i = 0; i < 100 && !capture.output().includes('listening on'); i++) await sleep(50);
}

describe.runIf(isRoot)('testbed', () => {
  let tb: Testbed | undefined;
  afterEach(async () => {
    await tb?.destroy();
    tb = undefined;
  });

  it('with hosts: 3 joins three namespaces through a bridge in a fourth, and removes all four on destroy', async () => {
    const three = await createTestbed({ hosts: 3 });
    const names = [...(['a', 'b', 'c'] as const).map((h) => three.hosts[h].netns), `${three.prefix}u`];
    try {
      expect(await namespaces()).toEqual(expect.arrayContaining(names));
      for (const [from, to] of [
        ['a', 'c'],
        ['c', 'b'],
        ['b', 'a'],
      ] as const) {
        expect((await three.exec(from, ['ping', '-c', '1', '-W', '2', three.hosts[to].underlayIp])).stdout).toContain('1 received');
      }
    } finally {
      await three.destroy();
    }
    expect((await namespaces()).filter((n) => names.includes(n))).toEqual([]);
  });

  it('joins two namespaces by a veth pair and removes them and their processes on destroy', async () => {
    tb = await createTestbed();
    expect(await namespaces()).toEqual(expect.arrayContaining([tb.hosts.a.netns, tb.hosts.b.netns]));
    const ping = await tb.exec('a', ['ping', '-c', '1', '-W', '2', tb.hosts.b.underlayIp]);
    expect(ping.stdout).toContain('1 received');
    const mtu = await tb.exec('b', ['cat', `/sys/class/net/${tb.hosts.b.dev}/mtu`]);
    expect(mtu.stdout.trim()).toBe('1500');
    const sleeper = tb.spawn('b', ['sleep', '300']);
    const names = [tb.hosts.a.netns, tb.hosts.b.netns];
    await tb.destroy();
    // destroy() stops what runs in the namespaces with SIGTERM (SIGKILL only after 2 s); sleep ends on the first.
    expect(await sleeper.exited).toBe('SIGTERM');
    expect(() => process.kill(sleeper.pid, 0)).toThrow();
    expect(await namespaces()).not.toEqual(expect.arrayContaining([names[0]]));
    expect(await namespaces()).not.toEqual(expect.arrayContaining([names[1]]));
  });

  it('removes the files it was told about outside the namespaces on destroy, and at once when asked', async () => {
    tb = await createTestbed();
    const scratch = tb.scratchDir('keys');
    writeFileSync(join(scratch.path, 'a.key'), 'secret\n');
    const socket = join(scratch.path, '..', `${tb.prefix}-test.sock`);
    writeFileSync(socket, '');
    tb.trackPath(socket);
    const early = tb.scratchDir('early');
    early.remove();
    expect(existsSync(early.path)).toBe(false);
    expect(existsSync(scratch.path)).toBe(true);
    await tb.destroy();
    expect(existsSync(scratch.path)).toBe(false);
    expect(existsSync(socket)).toBe(false);
  });

  it('applies offload profiles and reports the resulting ethtool state', async () => {
    tb = await createTestbed({ offloadProfile: 'off' });
    expect(tb.offloadState.a['tcp-segmentation-offload']).toBe('off');
    expect(tb.offloadState.b['tx-checksumming']).toBe('off');
    await tb.destroy();
    tb = await createTestbed({ offloadProfile: 'nic' });
    expect(tb.offloadState.a['rx-udp-gro-forwarding']).toBe('on');
    expect(tb.offloadState.b['generic-receive-offload']).toBe('on');
  });

  it('carries IPv6 on the underlay when asked', async () => {
    tb = await createTestbed({ ipv6Underlay: true });
    expect(tb.hosts.a.underlayIp).toContain(':');
    const ping = await tb.exec('a', ['ping', '-6', '-c', '1', '-W', '2', tb.hosts.b.underlayIp]);
    expect(ping.stdout).toContain('1 received');
  });

  it('with a WAN, every packet crosses the relay namespace delayed both ways: ping RTT ≈ 2 × delay on the underlay and through kernel VXLAN', async () => {
    const delayMs = 15;
    tb = await createTestbed({ wan: { delayMs, lossPct: 0 } });
    const relayNs = `${tb.prefix}w`;
    expect(await namespaces()).toContain(relayNs);
    const plan = overlayPlan(tb);
    await setupFlannelVxlan(tb, 'a', plan.a);
    await setupFlannelVxlan(tb, 'b', plan.b);
    for (const dst of [tb.hosts.b.underlayIp, plan.b.overlayIp]) {
      const ping = await tb.exec('a', ['ping', '-c', '5', '-i', '0.2', '-w', '10', dst]);
      expect(ping.stdout).toContain('5 received');
      const [min, avg] = (/= ([\d.]+)\/([\d.]+)\//.exec(ping.stdout) ?? []).slice(1).map(Number);
      // The relay waits at least the delay each way, and at most about a millisecond more (its poll is in ms).
      expect(min).toBeGreaterThanOrEqual(2 * delayMs);
      expect(avg).toBeLessThan(2 * delayMs + 10);
    }
    await tb.destroy();
    expect(await namespaces()).not.toContain(relayNs);
  });

  it('with a WAN, the relay drops the configured share of packets on each direction', async () => {
    tb = await createTestbed({ wan: { delayMs: 0, lossPct: 20 } });
    const ping = await tb.exec('a', ['ping', '-c', '200', '-i', '0.01', '-W', '1', '-w', '20', tb.hosts.b.underlayIp], { allowFail: true });
    // An echo and its reply each cross once: 1 - 0.8² = 36 % of the round trips are lost.
    const lostPct = Number(/([\d.]+)% packet loss/.exec(ping.stdout)?.[1]);
    expect(lostPct).toBeGreaterThan(22);
    expect(lostPct).toBeLessThan(50);
    const counts = await tb.stopWan();
    expect((counts?.loss ?? 0) / (counts?.relayed ?? 1)).toBeGreaterThan(0.12);
    expect((counts?.loss ?? 0) / (counts?.relayed ?? 1)).toBeLessThan(0.28);
  });

  it('sets up kernel VXLAN like Flannel: VNI 1 on UDP 8472 between the .0 addresses', async () => {
    tb = await createTestbed();
    const plan = overlayPlan(tb);
    const vxA = await setupFlannelVxlan(tb, 'a', plan.a);
    await setupFlannelVxlan(tb, 'b', plan.b);
    expect(vxA.device).toBe('flannel.1');
    expect(vxA.mtu).toBe(1450);
    const link = await tb.exec('a', ['ip', '-d', 'link', 'show', 'flannel.1']);
    expect(link.stdout).toMatch(/vxlan id 1 local 198\.18\.\d+\.1 dev \S+ srcport \d+ \d+ dstport 8472 nolearning/);
    expect(link.stdout).toContain(`link/ether ${plan.a.vtepMac}`);
    const capture = tb.spawn('b', ['tcpdump', '-i', tb.hosts.b.dev, '-nn', '-c', '1', '-x', 'udp', 'dst', 'port', '8472']);
    await waitListening(capture);
    const ping = await tb.exec('a', ['ping', '-c', '1', '-W', '2', plan.b.overlayIp]);
    expect(ping.stdout).toContain('1 received');
    await Promise.race([capture.exited, sleep(5000)]);
    const hex = capture
      .output()
      .split('\n')
      .filter((line) => line.includes('0x00'))
      .map((line) => line.split(':')[1])
      .join('')
      .replace(/\s+/g, '');
    // Outer IPv4 (20 B) + UDP (8 B), then the VXLAN header: flags 0x08, VNI 1; then the inner Ethernet header
    // addressed to b's VTEP MAC from a's.
    const vxlan = hex.slice(56, 72);
    expect(vxlan).toBe('0800000000000100');
    expect(hex.slice(72, 96)).toBe((plan.b.vtepMac + plan.a.vtepMac).replace(/:/g, ''));
  });
});
