/**
 * ICMP errors written by writeTooBig, delivered through a kernel VXLAN tunnel to a Linux host (kernel-pair.ts):
 * the host's own ICMP counters say whether it accepted them (checksums, headers) as "fragmentation needed" /
 * "packet too big", or threw them away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseMac, writeEthernet } from '../../../dataplane/packet/ethernet.js';
import { writeTooBig } from '../../../dataplane/packet/icmp.js';
import { VXLAN_HLEN, writeVxlan } from '../../../dataplane/packet/vxlan.js';
import { buildTcp, buildUdp, ip4, ip6 } from './helpers.js';
import { canRunNetns, GW_A, GW_B, KernelPair, MAC_A, MAC_B, sh, UNDERLAY_A } from './kernel-pair.js';

const pair = new KernelPair();
const V6_A = 'fd00:5:1::';
const V6_B = 'fd00:5:2::';

/** Sends one VXLAN datagram carrying `inner` from B's namespace to A's VXLAN port. */
function sendFromB(inner: Uint8Array, ethertype: number): void {
  const frame = new Uint8Array(VXLAN_HLEN + ETH_HLEN + inner.length);
  writeVxlan(frame, 0, 1);
  writeEthernet(frame, VXLAN_HLEN, parseMac(MAC_A)!, parseMac(MAC_B)!, ethertype);
  frame.set(inner, VXLAN_HLEN + ETH_HLEN);
  const js = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from(process.argv[1],'hex'),8472,'${UNDERLAY_A}',e=>process.exit(e?1:0))`;
  sh('ip', 'netns', 'exec', pair.nsB, process.execPath, '-e', js, Buffer.from(frame).toString('hex'));
}

/** A's counter `name` from /proc/net/snmp ("Icmp:InDestUnreachs") or /proc/net/snmp6 ("Icmp6InPktTooBigs"). */
function counter(name: string): number {
  if (name.includes(':')) {
    const [group, field] = name.split(':');
    const lines = sh('ip', 'netns', 'exec', pair.nsA, 'cat', '/proc/net/snmp')
      .split('\n')
      .filter((l) => l.startsWith(`${group}:`));
    const keys = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[keys.indexOf(field)]);
  }
  const line = sh('ip', 'netns', 'exec', pair.nsA, 'cat', '/proc/net/snmp6')
    .split('\n')
    .find((l) => l.startsWith(`${name} `));
  return Number(line?.trim().split(/\s+/)[1]);
}

async function waitFor(name: string, want: number): Promise<number> {
  for (let i = 0; i < 30 && counter(name) < want; i++) await new Promise((r) => setTimeout(r, 100));
  return counter(name);
}

describe.skipIf(!canRunNetns)('writeTooBig errors accepted by a Linux host through kernel VXLAN (netns, root)', () => {
  beforeAll(() =>
    pair.start(async () => {
      sh('ip', 'netns', 'exec', pair.nsA, 'sysctl', '-qw', `net.ipv6.conf.${pair.vxlanA}.disable_ipv6=0`);
      sh('ip', '-n', pair.nsA, 'addr', 'add', `${V6_A}/128`, 'dev', pair.vxlanA, 'nodad');
    }),
  );
  afterAll(() => pair.destroy());

  const v4Error = () => {
    const orig = buildUdp(4, ip4(GW_A), ip4('10.5.2.7'), 5000, 6000, new Uint8Array(1400).fill(0x5a));
    const out = new Uint8Array(1500);
    const n = writeTooBig(orig, 0, orig.length, 1300, ip4(GW_B), out, 0);
    return out.subarray(0, n);
  };

  it('ICMPv4 fragmentation needed: counted as a destination unreachable, no checksum or header errors', async () => {
    const before = { unreach: counter('Icmp:InDestUnreachs'), csum: counter('Icmp:InCsumErrors'), hdr: counter('Ip:InHdrErrors') };
    sendFromB(v4Error(), ETHERTYPE_IPV4);
    expect(await waitFor('Icmp:InDestUnreachs', before.unreach + 1)).toBe(before.unreach + 1);
    expect(counter('Icmp:InCsumErrors')).toBe(before.csum);
    expect(counter('Ip:InHdrErrors')).toBe(before.hdr);
  });

  it('the same error with one flipped bit is counted as a checksum error (the counters can tell)', async () => {
    const before = counter('Icmp:InCsumErrors');
    const bad = v4Error().slice();
    bad[bad.length - 1] ^= 1;
    sendFromB(bad, ETHERTYPE_IPV4);
    expect(await waitFor('Icmp:InCsumErrors', before + 1)).toBe(before + 1);
  });

  it('ICMPv6 packet too big: counted as such, no checksum errors', async () => {
    const orig = buildTcp({
      family: 6,
      src: ip6(V6_A),
      dst: ip6('fd00:5:2::7'),
      sport: 1,
      dport: 2,
      seq: 0,
      ack: 0,
      flags: 0x18,
      payload: new Uint8Array(1500),
    });
    const out = new Uint8Array(2000);
    const n = writeTooBig(orig, 0, orig.length, 1280, ip6(V6_B), out, 0);
    expect(n).toBe(1280);
    const before = { ptb: counter('Icmp6InPktTooBigs'), csum: counter('Icmp6InCsumErrors') };
    sendFromB(out.subarray(0, n), ETHERTYPE_IPV6);
    expect(await waitFor('Icmp6InPktTooBigs', before.ptb + 1)).toBe(before.ptb + 1);
    expect(counter('Icmp6InCsumErrors')).toBe(before.csum);
  });
});
