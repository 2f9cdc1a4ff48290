/**
 * Sparse traffic runs on the code the worker optimized for earlier traffic: at a ping's rate V8 takes seconds to
 * optimize again what it threw away. Two queue loops over the fakes (built code in dist/, in a child node with
 * --trace-deopt-verbose) carry thousands of small UDP packets of many flows, then pings; no function of the packet
 * path may be deoptimized when the pings start.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIST = join(ROOT, 'dist', 'dataplane');

const SCRIPT = `
const d = ${JSON.stringify(DIST)};
const { QueueLoop } = await import(d + '/queue.js');
const { PeerTable, PeerView } = await import(d + '/routes.js');
const { FakePoller, FakeTunQueue, fakeUdpPair } = await import(d + '/sys/fake.js');
const { ROW, PEER_ROW } = await import(d + '/stats.js');
const [ua, ub] = fakeUdpPair();
const host = (udp, mac, gw, other) => {
  const table = new PeerTable(8);
  table.set([other]);
  const tun = new FakeTunQueue({ vnetHdr: true });
  const cfg = { vni: 1, port: 8472, family: 4, vtepMac: Uint8Array.from(mac), gateway4: Uint8Array.from(gw), gateway6: null, overlayMtu: 1450 };
  const loop = new QueueLoop({ cfg, tun, rx: udp, tx: [udp, udp, udp, udp], poller: new FakePoller(tun, udp), peers: new PeerView(table.sab),
    stats: new Float64Array(ROW), peerStats: new Float64Array(8 * PEER_ROW), stop: new Int32Array(1) });
  return { tun, loop };
};
const a = host(ua, [2, 0, 0, 0, 1, 1], [10, 244, 1, 0], { publicIp: '192.0.2.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:02:01' });
const b = host(ub, [2, 0, 0, 0, 2, 1], [10, 244, 2, 0], { publicIp: '192.0.2.1', subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:01:01' });
const sum = (p, from, to, init) => { let s = init; for (let i = from; i < to; i += 2) s += (p[i] << 8) | (p[i + 1] ?? 0); while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return ~s & 0xffff; };
const put16 = (p, o, v) => { p[o] = v >>> 8; p[o + 1] = v & 0xff; };
// virtio_net_hdr (10 zero bytes), IPv4 10.244.1.0 -> 10.244.2.0, then 8 + data bytes of UDP or ICMP echo.
const packet = (proto, sport, data) => {
  const p = new Uint8Array(10 + 28 + data);
  const ip = p.subarray(10);
  ip.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 244, 1, 0, 10, 244, 2, 0]);
  put16(ip, 2, ip.length);
  put16(ip, 10, sum(ip, 0, 20, 0));
  for (let i = 36; i < ip.length; i++) ip[i] = i;
  if (proto === 17) {
    put16(ip, 20, sport); put16(ip, 22, 5000); put16(ip, 24, ip.length - 20);
    put16(ip, 26, sum(ip, 20, ip.length, 17 + ip.length - 20 + 0x0af4 + 0x0100 + 0x0af4 + 0x0200) || 0xffff);
  } else {
    ip[20] = 8; put16(ip, 24, 7); put16(ip, 26, sport);
    put16(ip, 22, sum(ip, 20, ip.length, 0));
  }
  return p;
};
const carry = (pkt) => { a.tun.push(pkt); a.loop.turn(); b.loop.turn(); };
for (let i = 0; i < 30000; i++) carry(packet(17, 40000 + (i % 64), 14));
console.log('--- pings from here; b got ' + b.tun.outbound.length);
for (let i = 0; i < 300; i++) carry(packet(1, i, 56));
console.log('--- done; b got ' + b.tun.outbound.length);
`;

describe('packet path code across a change of traffic', () => {
  it('keeps its optimized code when pings follow a run of small UDP packets', () => {
    if (!existsSync(join(DIST, 'queue.js'))) throw new Error(`${DIST}/queue.js is missing: run \`npm run build\` first`);
    const out = execFileSync(process.execPath, ['--trace-deopt-verbose', '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
    });
    const afterSwitch = out.slice(out.indexOf('--- pings from here'));
    expect(out).toContain('--- pings from here; b got 30000');
    expect(afterSwitch).toContain('--- done; b got 30300');
    const deopts = afterSwitch.split('\n').filter((l) => l.includes(';;; deoptimize at') && l.includes('/dist/dataplane/'));
    expect(deopts.map((l) => l.trim().replace(/file:\/\/\S*\/dist\//g, ''))).toEqual([]);
  }, 60_000);
});
