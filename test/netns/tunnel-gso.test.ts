/**
 * The tunnel route (Linux 6.17+): TSO super-packets leave through the TAP `<tun>-gso` as one VXLAN frame each, and
 * the kernel segments them on the underlay. What a user notices: the bytes on the wire are the same VXLAN datagrams
 * as before (MTU-sized, valid outer and inner checksums, TTL 64, port 8472, the peer's VTEP MAC), files arrive
 * intact, and where the kernel would not forward the frames (a firewall dropping forwarded packets) or the host's
 * settings forbid it, vxtun says so and sends UDP segments instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestbed, type Testbed } from '../../bench/testbed/index.js';
import { CLI, isRoot, pairConfig, pairMacs, startStatic, tcpTransfer, type VxtunProc } from './harness.js';
import { captureVxlan } from './tools/capture.js';

const MB = 1024 * 1024;
const GATEWAY_B = '10.244.2.0';

/** The Internet checksum of bytes, with `initial` added (a pseudo-header sum); 0 when the bytes hold a valid sum. */
function verify(bytes: Uint8Array, initial: number): number {
  let s = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) s += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length % 2) s += bytes[bytes.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function pseudoV4(ip: Uint8Array, proto: number, len: number): number {
  let s = proto + len;
  for (let i = 12; i < 20; i += 2) s += (ip[i] << 8) | ip[i + 1];
  return s;
}

describe.runIf(isRoot)('super-packets through the tunnel TAP', () => {
  let tb: Testbed;
  const mac = pairMacs();
  let a: VxtunProc | undefined;
  let b: VxtunProc;

  const links = async () => (await tb.exec('a', ['ip', '-o', 'link', 'show'])).stdout;
  const startA = async (extra: object = {}) => {
    a = await startStatic(tb, 'a', pairConfig(tb, mac, 'a', extra));
    return a;
  };
  const stopA = async () => {
    const stats = await a!.stop();
    a = undefined;
    return stats;
  };

  beforeAll(async () => {
    tb = await createTestbed();
    b = await startStatic(tb, 'b', pairConfig(tb, mac, 'b'));
  });

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await tb?.destroy();
  });

  it('on the wire: MTU-sized VXLAN datagrams with valid outer and inner checksums; the file arrives intact', async () => {
    const p = await startA();
    expect(p.logs('dataplane started')[0].tunnelGso).toBe('vxtun0-gso');
    expect(await links()).toContain('vxtun0-gso');
    // Then no checksum or segmentation offload on a's veth (vxtun checks the device only at start): the kernel
    // finishes every datagram in software, so the capture on b shows what a NIC would put on a cable.
    await tb.exec('a', ['ethtool', '-K', tb.hosts.a.dev, 'tx', 'off']);
    try {
      const { result, raw } = await captureVxlan(
        tb,
        'b',
        ['udp', 'and', 'src', 'host', tb.hosts.a.underlayIp],
        () => tcpTransfer(tb, 'a', 'b', GATEWAY_B, 20 * MB),
        1600,
      );
      expect(result.received).toEqual(result.sent);
      let tcpSegments = 0;
      for (const f of raw) {
        const ip = f.subarray(14);
        const ipLen = (ip[2] << 8) | ip[3];
        expect(f.length).toBe(14 + ipLen); // captured whole
        expect(ipLen).toBeLessThanOrEqual(tb.mtu);
        expect(ip[8]).toBe(64); // TTL
        expect(verify(ip.subarray(0, 20), 0)).toBe(0);
        const udp = ip.subarray(20, ipLen);
        expect((udp[2] << 8) | udp[3]).toBe(8472);
        expect((udp[6] << 8) | udp[7]).not.toBe(0);
        expect(verify(udp, pseudoV4(ip, 17, udp.length))).toBe(0);
        expect([...udp.subarray(8, 16)]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
        const eth = udp.subarray(16);
        expect([...eth.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':')).toBe(mac.b);
        const inner = eth.subarray(14);
        if (inner[9] !== 6) continue;
        const innerLen = (inner[2] << 8) | inner[3];
        expect(innerLen).toBeLessThanOrEqual(tb.mtu - 50);
        expect(verify(inner.subarray(0, 20), 0)).toBe(0);
        expect(verify(inner.subarray(20, innerLen), pseudoV4(inner, 6, innerLen - 20))).toBe(0);
        tcpSegments++;
      }
      expect(tcpSegments).toBeGreaterThan(1000);
      expect(p.logs('tunnel GSO route')).toEqual([]);
      const stats = await stopA();
      // The super-packets went whole through the TAP, none fell back.
      expect(stats.tunnelWrites).toBeGreaterThan(100);
      expect(stats.tunnelFallbacks).toBe(0);
      expect(await links()).not.toContain('vxtun0-gso');
    } finally {
      await tb.exec('a', ['ethtool', '-K', tb.hosts.a.dev, 'tx', 'on']);
    }
  }, 90_000);

  it('a firewall dropping forwarded packets: vxtun notices within seconds, sends UDP segments, and the file arrives', async () => {
    const table = `vxtun_${tb.prefix}fw`;
    await tb.exec('a', ['nft', 'add', 'table', 'inet', table]);
    try {
      await tb.exec('a', ['nft', 'add', 'chain', 'inet', table, 'drop_forwarded', '{ type filter hook forward priority 0; policy drop; }']);
      const p = await startA();
      const r = await tcpTransfer(tb, 'a', 'b', GATEWAY_B, 20 * MB);
      expect(r.received).toEqual(r.sent);
      const warned = p.logs('tunnel GSO route: the kernel did not forward');
      expect(warned).toHaveLength(1);
      // As an operator sees it: the route is off, and says why.
      const status = JSON.parse((await tb.exec('a', [process.execPath, CLI, 'status', '--tun-name', 'vxtun0', '--json'])).stdout);
      expect(status.tun.offloads.tunnelGso).toBeNull();
      expect(status.tun.offloads.tunnelGsoOff).toMatch(/^the kernel forwarded \d+ of \d+ frames written to vxtun0-gso/);
      const written = status.counters.tunnelWrites;
      expect(written).toBeGreaterThan(0);
      // From then on super-packets go as UDP segments: another file crosses, and not one more frame meets the TAP.
      const again = await tcpTransfer(tb, 'a', 'b', GATEWAY_B, 10 * MB);
      expect(again.received).toEqual(again.sent);
      expect((await stopA()).tunnelWrites).toBe(written);
    } finally {
      await tb.exec('a', ['nft', 'delete', 'table', 'inet', table], { allowFail: true });
    }
  }, 90_000);

  it('an underlay that would segment tunnel packets in software: no TAP, the log says why, and traffic flows', async () => {
    await tb.exec('a', ['ethtool', '-K', tb.hosts.a.dev, 'tx-udp_tnl-csum-segmentation', 'off']);
    try {
      const p = await startA();
      expect(p.logs('dataplane started')[0].tunnelGso).toBe(
        `off: ${tb.hosts.a.dev} has tx-udp_tnl-csum-segmentation off: the kernel would segment in software, which costs more than splitting`,
      );
      expect(await links()).not.toContain('-gso');
      const r = await tcpTransfer(tb, 'a', 'b', GATEWAY_B, 10 * MB);
      expect(r.received).toEqual(r.sent);
      expect((await stopA()).tunnelWrites).toBe(0);
    } finally {
      await tb.exec('a', ['ethtool', '-K', tb.hosts.a.dev, 'tx-udp_tnl-csum-segmentation', 'on']);
    }
  }, 60_000);

  it('switched off, or with strict reverse-path filtering: no TAP, the log says why, and traffic flows as UDP segments', async () => {
    let p = await startA({ tunnelGso: false });
    expect(p.logs('dataplane started')[0].tunnelGso).toBe('off: switched off (tunnelGso: false)');
    expect(await links()).not.toContain('-gso');
    const r = await tcpTransfer(tb, 'a', 'b', GATEWAY_B, 10 * MB);
    expect(r.received).toEqual(r.sent);
    let stats = await stopA();
    expect(stats.tunnelWrites).toBe(0);

    const before = (await tb.exec('a', ['sysctl', '-n', 'net.ipv4.conf.all.rp_filter'])).stdout.trim();
    await tb.exec('a', ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=1']);
    try {
      p = await startA();
      expect(String(p.logs('dataplane started')[0].tunnelGso)).toMatch(/^off: net\.ipv4\.conf\.all\.rp_filter is 1/);
      expect(await links()).not.toContain('-gso');
      stats = await stopA();
      expect(stats.tunnelWrites).toBe(0);
    } finally {
      await tb.exec('a', ['sysctl', '-qw', `net.ipv4.conf.all.rp_filter=${before}`]);
    }
  }, 60_000);
});
