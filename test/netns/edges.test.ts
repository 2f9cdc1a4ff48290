/**
 * vxtun at the edges, as an operator sees it: the bytes on the wire (VXLAN header, inner Ethernet, outer source
 * port per flow), a VTEP MAC that survives a restart, ICMP "fragmentation needed" / "packet too big" for packets
 * that do not fit, peers replaced by SIGHUP (and a broken config that changes nothing), bad config files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestbed,
  launchStatic,
  randomVtepMac,
  writeStaticConfig,
  type HostName,
  type RunningVxtun,
  type Testbed,
} from '../../bench/testbed/index.js';
import { run } from '../../bench/testbed/process.js';
import { CLI, isRoot, ping, tcpTransfer } from './harness.js';
import { captureVxlan, innerSourcePort, type VxlanDatagram } from './tools/capture.js';
import { iperfFlows } from './tools/iperf.js';

const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };
const subnet6 = { a: 'fd10:244:1::/64', b: 'fd10:244:2::/64' };
const gateway = { a: '10.244.1.0', b: '10.244.2.0' };
const gateway6 = { a: 'fd10:244:1::', b: 'fd10:244:2::' };

describe.runIf(isRoot)('vxtun at the edges', () => {
  let tb: Testbed;
  let dir: string;
  let running: RunningVxtun[] = [];
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const other = (h: HostName): HostName => (h === 'a' ? 'b' : 'a');

  /** This host's config; `peerMac` null leaves the peer list empty, `ownMac` null leaves vtepMac to the state dir. */
  const config = (self: HostName, o: { ownMac?: string | null; peerMac?: string | null; stateDir?: string } = {}) => {
    const peer = other(self);
    const peerMac = o.peerMac === undefined ? mac[peer] : o.peerMac;
    const ownMac = o.ownMac === undefined ? mac[self] : o.ownMac;
    return {
      publicIp: tb.hosts[self].underlayIp,
      subnet: subnet[self],
      ipv6Subnet: subnet6[self],
      network: '10.244.0.0/16',
      ipv6Network: 'fd10:244::/32',
      stateDir: o.stateDir ?? join(dir, `state-${self}`),
      ...(ownMac === null ? {} : { vtepMac: ownMac }),
      peers:
        peerMac === null
          ? []
          : [
              {
                publicIp: tb.hosts[peer].underlayIp,
                subnet: subnet[peer],
                ipv6Subnet: subnet6[peer],
                vtepMac: peerMac,
              },
            ],
    };
  };

  const start = async (host: HostName, cfg: object, file = join(dir, `${host}.json`), args: string[] = []) => {
    writeStaticConfig(file, cfg);
    const proc = await launchStatic(tb, host, file, { extraArgs: args });
    running.push(proc);
    return proc;
  };
  const stop = async (proc: RunningVxtun) => {
    running = running.filter((r) => r !== proc);
    return proc.stop();
  };

  beforeAll(async () => {
    tb = await createTestbed();
    dir = mkdtempSync(join(tmpdir(), `vxtun-edges-${tb.prefix}-`));
  });

  const stopAll = async () => {
    await Promise.allSettled(running.map((r) => r.stop()));
    running = [];
  };
  afterEach(stopAll);

  afterAll(async () => {
    await tb?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("on the wire (captured on the receiving host's underlay veth)", () => {
    const flows = 8;
    let datagrams: VxlanDatagram[] = [];
    let workers: unknown;

    beforeAll(async () => {
      const a = await start('a', config('a'));
      await start('b', config('b'));
      workers = a.logs('dataplane started')[0].workerInfo;
      const captured = await captureVxlan(tb, 'b', ['udp', 'and', 'src', 'host', tb.hosts.a.underlayIp], async () => {
        expect(await ping(tb, 'a', gateway.b, 2)).toBe(2);
        const r = await iperfFlows(tb, 'a', 'b', gateway.b, flows);
        expect(r.end.streams).toHaveLength(flows);
      });
      datagrams = captured.datagrams;
    });

    it("every datagram carries Flannel's VXLAN header and the peer's VTEP MAC", () => {
      expect(datagrams.length).toBeGreaterThan(50);
      for (const d of datagrams) {
        expect(d.outerFamily).toBe(4);
        expect(d.dstPort).toBe(8472);
        expect([...d.vxlan]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]); // flags I, reserved 0, VNI 1, reserved 0
        expect(d.innerDstMac).toBe(mac.b);
        expect(d.innerSrcMac).toBe(mac.a);
        expect(d.innerEtherType).toBe(0x0800);
        expect(d.udpChecksum).not.toBe(0);
      }
      // The ping itself: an ICMP echo request from our gateway to the peer's.
      const echo = datagrams.find((d) => d.inner[9] === 1 && d.inner[20] === 8);
      expect(echo && [...echo.inner.subarray(12, 20)].join('.')).toBe('10.244.1.0.10.244.2.0');
    });

    it('each inner TCP flow keeps one outer source port, and flows spread over several', () => {
      const portsByFlow: Record<number, number[]> = {};
      for (const d of datagrams) {
        const sport = d.inner[9] === 6 ? innerSourcePort(d.inner) : -1;
        if (sport < 0) continue;
        const ports = (portsByFlow[sport] ??= []);
        if (!ports.includes(d.srcPort)) ports.push(d.srcPort);
      }
      expect(Object.keys(portsByFlow).length).toBeGreaterThanOrEqual(flows); // + iperf3's control connection
      const switched = Object.entries(portsByFlow).filter(([, ports]) => ports.length > 1);
      expect(switched, `flows that changed outer source port; worker source ports: ${JSON.stringify(workers)}`).toEqual([]);
      expect(new Set(Object.values(portsByFlow).flat()).size).toBeGreaterThanOrEqual(2);
    });
  });

  it('keeps its VTEP MAC across a restart, so a peer that knows it still reaches it', async () => {
    const stateDir = join(dir, 'persist');
    const first = await start('a', config('a', { ownMac: null, stateDir }));
    const created = first.logs('created a new VTEP MAC');
    expect(created).toHaveLength(1);
    const vtepMac = String(first.logs('vxtun static running')[0].vtepMac);
    expect(created[0].vtepMac).toBe(vtepMac);
    expect(vtepMac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(parseInt(vtepMac.slice(0, 2), 16) & 0x03).toBe(0x02); // locally administered, unicast
    expect(readFileSync(join(stateDir, 'vxtun0.vtep-mac'), 'utf8').trim()).toBe(vtepMac);

    await start('b', config('b', { peerMac: vtepMac }));
    expect(await ping(tb, 'b', gateway.a)).toBe(3);
    await stop(first);

    const second = await start('a', config('a', { ownMac: null, stateDir }));
    expect(second.logs('created a new VTEP MAC')).toHaveLength(0);
    expect(second.logs('vxtun static running')[0].vtepMac).toBe(vtepMac);
    expect(await ping(tb, 'b', gateway.a)).toBe(3);
  });

  it('answers a packet too big for the overlay with ICMP, IPv4 and IPv6 inner', async () => {
    const a = await start('a', config('a'));
    await start('b', config('b'));
    const dp = await a.waitForLog('dataplane started');
    expect(dp.mtu).toBe(1450);
    expect(await ping(tb, 'a', gateway.b, 1)).toBe(1);
    // Raise the TUN MTUs behind vxtun's back: the kernels now hand it packets that cannot cross the underlay
    // (on both hosts, so neither TCP end announces an MSS that would fit anyway).
    for (const h of ['a', 'b'] as const) await tb.exec(h, ['ip', 'link', 'set', 'vxtun0', 'mtu', '4000']);
    const v4 = await tb.exec('a', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '3000', gateway.b], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    expect(v4.stdout + v4.stderr).toContain('Frag needed and DF set (mtu = 1450)');
    const v6 = await tb.exec('a', ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '3000', gateway6.b], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    expect(v6.stdout + v6.stderr).toMatch(/Packet too big: mtu=1450/);
    // Packets that fit still cross, and TCP finds the path MTU from those errors instead of stalling.
    expect(await ping(tb, 'a', gateway.b, 2)).toBe(2);
    const tcp = await tcpTransfer(tb, 'a', 'b', gateway.b, 20 * 1024 * 1024, 5212, 20_000);
    expect(tcp.received).toEqual(tcp.sent);
    const s = await stop(a);
    expect(s.icmpTooBig).toBeGreaterThanOrEqual(2);
    expect(s.drops.tooBig).toBeGreaterThanOrEqual(2);
  });

  it('replaces its peers on SIGHUP, and keeps them when the new config is broken', async () => {
    const file = join(dir, 'a-reload.json');
    const a = await start('a', config('a', { peerMac: null }), file, ['--stats-interval', '1']);
    await start('b', config('b'));
    const noRoute = (line: Record<string, unknown>) => (line.stats as { drops: Record<string, number> }).drops.noRoute ?? 0;
    const before = noRoute(await a.waitForLog('stats'));
    expect(await ping(tb, 'a', gateway.b, 3)).toBe(0);
    const seen = a.logs('stats').length;
    const after = noRoute(await a.waitForLog('stats', seen + 1));
    expect(after - before).toBeGreaterThanOrEqual(3);

    writeStaticConfig(file, config('a'));
    a.signal('SIGHUP');
    expect((await a.waitForLog('config reloaded')).peers).toBe(1);
    expect(await ping(tb, 'a', gateway.b, 3)).toBe(3);

    writeStaticConfig(file, { ...config('a'), peers: [{ publicIp: tb.hosts.b.underlayIp, subnet: subnet.b, vtepMac: 'not-a-mac' }] });
    a.signal('SIGHUP');
    expect((await a.waitForLog('config reload failed')).code).toBe('VXTUN_ERR_CONFIG');
    expect(await ping(tb, 'a', gateway.b, 3)).toBe(3);

    writeFileSync(file, '{ "publicIp": ');
    a.signal('SIGHUP');
    await a.waitForLog('config reload failed', 2);
    expect(await ping(tb, 'a', gateway.b, 3)).toBe(3);
    expect(a.logs('config reloaded')).toHaveLength(1);
  });
});

describe('vxtun static with a bad config file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vxtun-badconfig-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const valid = { publicIp: '198.18.0.1', subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:01:01' };
  const peer = (subnet: string) => ({ publicIp: '198.18.0.2', subnet, vtepMac: '02:00:00:00:02:01' });
  it.each([
    ['a missing file', null, /cannot read config .*missing\.json/],
    ['a file that is not JSON', '{ "publicIp": ', /is not JSON/],
    ['a subnet that is no CIDR', { ...valid, subnet: 'banana' }, /subnet: an IPv4 CIDR like/],
    ['a subnet whose prefix is longer than 32 bits', { ...valid, subnet: '10.244.1.0/33' }, /subnet: "10\.244\.1\.0\/33" is not a CIDR/],
    ['a subnet with host bits set', { ...valid, subnet: '10.244.1.7/24' }, /subnet: .*host bits set; use 10\.244\.1\.0\/24/],
    ['an IPv6 CIDR as subnet', { ...valid, subnet: 'fd10:244:1::/64' }, /subnet/],
    ['an IPv4 CIDR as ipv6Subnet', { ...valid, ipv6Subnet: '10.244.9.0/24' }, /ipv6Subnet/],
    ['an IPv6 CIDR as network', { ...valid, network: 'fd10:244::/32' }, /network/],
    [
      'a subnet outside the network',
      { ...valid, network: '10.245.0.0/16' },
      /subnet: 10\.244\.1\.0\/24 is outside network 10\.245\.0\.0\/16/,
    ],
    ['a peer with our own subnet', { ...valid, peers: [peer('10.244.1.0/24')] }, /peers\[0\]\.subnet: 10\.244\.1\.0\/24 is our own subnet/],
    [
      'a peer subnet covering ours',
      { ...valid, peers: [peer('10.244.2.0/24'), peer('10.244.0.0/20')] },
      /peers\[1\]\.subnet: 10\.244\.0\.0\/20 overlaps our subnet 10\.244\.1\.0\/24/,
    ],
    [
      'a peer subnet inside ours',
      { ...valid, peers: [peer('10.244.1.128/25')] },
      /peers\[0\]\.subnet: 10\.244\.1\.128\/25 overlaps our subnet 10\.244\.1\.0\/24/,
    ],
    [
      'a peer IPv6 subnet inside ours',
      { ...valid, ipv6Subnet: 'fd10:244:1::/64', peers: [{ ...peer('10.244.2.0/24'), ipv6Subnet: 'fd10:244:1::/80' }] },
      /peers\[0\]\.ipv6Subnet: fd10:244:1::\/80 overlaps our ipv6Subnet fd10:244:1::\/64/,
    ],
    [
      'two peers overlapping each other',
      { ...valid, peers: [peer('10.244.2.0/24'), peer('10.244.2.0/25')] },
      /peers\[1\]\.subnet: 10\.244\.2\.0\/25 overlaps peers\[0\]\.subnet 10\.244\.2\.0\/24/,
    ],
  ])('%s: exits 1 with VXTUN_ERR_CONFIG naming the problem, before touching the kernel', async (name, content, why) => {
    const file = join(dir, content === null ? 'missing.json' : `${name.replace(/\W+/g, '-')}.json`);
    if (typeof content === 'string') writeFileSync(file, content);
    else if (content !== null) writeStaticConfig(file, { ...content, stateDir: join(dir, 'state') });
    // As root, in a throwaway network namespace: should validation let a bad config through, the TUN it opens
    // and the routes it adds land there, not on this machine.
    const argv = [process.execPath, CLI, 'static', '--config', file];
    const r = await run(isRoot ? ['unshare', '--net', ...argv] : argv, { allowFail: true, timeoutMs: 5_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vxtun: VXTUN_ERR_CONFIG: /);
    expect(r.stderr).toMatch(why);
    expect(r.stdout).not.toContain('dataplane started');
  });

  it.each([
    [['--workers', '0'], /option '--workers <n>' argument '0' is invalid\. expected an integer in 1\.\.64/],
    [['--workers', '65'], /option '--workers <n>' argument '65' is invalid\. expected an integer in 1\.\.64/],
    [['--stats-interval', 'often'], /option '--stats-interval <seconds>' argument 'often' is invalid/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
  ])('vxtun static %j: exits 1 with VXTUN_ERR_CONFIG and no stack trace', async (flags, why) => {
    const file = join(dir, 'flags.json');
    writeStaticConfig(file, { ...valid, stateDir: join(dir, 'state') });
    const argv = [process.execPath, CLI, 'static', '--config', file, ...flags];
    const r = await run(isRoot ? ['unshare', '--net', ...argv] : argv, { allowFail: true, timeoutMs: 5_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vxtun: VXTUN_ERR_CONFIG: /);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
