/**
 * Corruption the outer UDP checksum does not catch (the relay sends the impaired bytes with a zero outer
 * checksum, as Linux VXLAN's default `noudpcsum` peers do) never reaches an application through vxtun: a TCP file
 * keeps its sha256, UDP datagrams whose inner checksum or inner IPv4 header checksum was broken are not
 * delivered (coalesced or not) while every intact one is, and each one is counted where it was dropped.
 * Impairments run host a -> host b only, so host b's counters must account for every one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomVtepMac } from '../../bench/testbed/index.js';
import { isRoot, startStatic, tcpTransfer, udpTransfer, type VxtunProc } from '../netns/harness.js';
import { createRelayBed, kernelSnmp, type RelayBed } from '../../bench/faults/bed.js';

const MB = 1024 * 1024;
const DATAGRAMS = 3000;

describe.runIf(isRoot)('integrity: corrupted inner packets are never delivered', () => {
  let bed: RelayBed;
  const procs: Partial<Record<'a' | 'b', VxtunProc>> = {};
  const mac = { a: randomVtepMac(), b: randomVtepMac() };
  const subnet = { a: '10.244.1.0/24', b: '10.244.2.0/24' };
  /** Datagrams the relay corrupted towards b whose inner TCP/UDP/IPv4 checksum vxtun must catch. */
  let corruptedForVxtun = 0;

  beforeAll(async () => {
    bed = await createRelayBed();
    const config = (self: 'a' | 'b', other: 'a' | 'b') => ({
      publicIp: bed.side[self].ip,
      subnet: subnet[self],
      network: '10.244.0.0/16',
      vtepMac: mac[self],
      peers: [{ publicIp: bed.side[self].peerIp, subnet: subnet[other], vtepMac: mac[other] }],
    });
    procs.a = await startStatic(bed.tb, 'a', config('a', 'b'));
    procs.b = await startStatic(bed.tb, 'b', config('b', 'a'));
  });

  afterAll(async () => {
    await Promise.allSettled([procs.a?.stop(), procs.b?.stop()]);
    await bed?.destroy();
  });

  it('a TCP transfer through inner bit flips arrives with the same sha256', async () => {
    await bed.startRelay([8472], 'corruptInner=0.003,direction=ab,zeroChecksum=1');
    const r = await tcpTransfer(bed.tb, 'a', 'b', '10.244.2.0', 30 * MB);
    const relayed = await bed.stopRelay();
    corruptedForVxtun += relayed.corruptInner;
    expect(relayed.corruptInner).toBeGreaterThan(10);
    expect(r.received).toEqual(r.sent);
  });

  it('UDP datagrams with a flipped inner bit are dropped, every other one delivered', async () => {
    await bed.startRelay([8472], 'corruptInner=0.05,direction=ab,zeroChecksum=1');
    const r = await udpTransfer(bed.tb, 'a', 'b', '10.244.2.0', DATAGRAMS, 1200, 5300, 3000);
    const relayed = await bed.stopRelay();
    corruptedForVxtun += relayed.corruptInner;
    expect(relayed.corruptInner).toBeGreaterThan(50);
    expect(r.sent.sent).toBe(DATAGRAMS);
    expect(r.received.received).toBe(DATAGRAMS - relayed.corruptInner);
  });

  it('UDP datagrams whose inner IPv4 header checksum no longer matches are dropped, every other one delivered', async () => {
    await bed.startRelay([8472], 'corruptIpHeader=0.05,direction=ab,zeroChecksum=1');
    const r = await udpTransfer(bed.tb, 'a', 'b', '10.244.2.0', DATAGRAMS, 1200, 5301, 3000);
    const relayed = await bed.stopRelay();
    corruptedForVxtun += relayed.corruptIpHeader;
    expect(relayed.corruptIpHeader).toBeGreaterThan(50);
    expect(r.received.received).toBe(DATAGRAMS - relayed.corruptIpHeader);
  });

  it('ICMP echo requests with flipped bits are dropped by the kernel: no reply carries wrong data', async () => {
    // Only requests are impaired: a corrupted reply would reach ping's raw socket whatever the tunnel does.
    const before = await kernelSnmp(bed.tb, 'b');
    await bed.startRelay([8472], 'corruptInner=0.2,direction=ab,zeroChecksum=1');
    const out = await bed.tb.exec('a', ['ping', '-c', '40', '-i', '0.02', '-s', '1000', '-W', '1', '10.244.2.0'], {
      allowFail: true,
      timeoutMs: 20_000,
    });
    const relayed = await bed.stopRelay();
    const after = await kernelSnmp(bed.tb, 'b');
    expect(relayed.corruptInner).toBeGreaterThan(2);
    expect(out.stdout).toMatch(/\d+ received/);
    expect(out.stdout).not.toMatch(/wrong data|DUP|BAD CHECKSUM/i);
    expect(after['Icmp.InCsumErrors'] - before['Icmp.InCsumErrors']).toBe(relayed.corruptInner);
  });

  it('host b counted every corrupted TCP/UDP datagram as badChecksum', async () => {
    const s = await procs.b!.stop();
    procs.b = undefined;
    expect(s.drops.badChecksum).toBe(corruptedForVxtun);
  });
});
