/**
 * Golden frames from the kernel (two Flannel-style VXLAN hosts, see kernel-pair.ts). One ping from A makes the
 * kernels exchange an ARP request/reply and an ICMP echo pair, captured on B's veth; our parsers must read them
 * and our writers must produce the same bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArpRequest, writeArpReply } from '../../../dataplane/packet/arp.js';
import { DropReason } from '../../../dataplane/packet/drops.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseMac, writeEthernet } from '../../../dataplane/packet/ethernet.js';
import { icmpChecksumValid } from '../../../dataplane/packet/icmp.js';
import { parseIp } from '../../../dataplane/packet/ip.js';
import { SRC_PORT_MAX, SRC_PORT_MIN } from '../../../dataplane/packet/flowhash.js';
import { innerEthertype, readVni, VXLAN_HLEN, VXLAN_OVERHEAD, VXLAN_PORT_LINUX, writeVxlan } from '../../../dataplane/packet/vxlan.js';
import { ip4, ipv4HeaderValid } from './helpers.js';
import { canRunNetns, GW_B, KernelPair, MAC_A as A, MAC_B as B, sh, vxlanOf } from './kernel-pair.js';

const pair = new KernelPair();
const MAC_A = parseMac(A)!;
const MAC_B = parseMac(B)!;

describe.skipIf(!canRunNetns)('kernel VXLAN golden frames (netns, root)', () => {
  let frames: Uint8Array[] = [];

  beforeAll(() =>
    pair.start(async () => {
      frames = await pair.capture(() => sh('ip', 'netns', 'exec', pair.nsA, 'ping', '-c', '1', '-W', '3', GW_B), 4);
    }),
  );
  afterAll(() => pair.destroy());

  it('captured ARP request, ARP reply, echo request, echo reply', () => {
    expect(frames.length).toBe(4);
    const types = frames.map((f) => {
      const v = vxlanOf(f).payload;
      return (v[VXLAN_HLEN + 12] << 8) | v[VXLAN_HLEN + 13];
    });
    expect(types).toEqual([ETHERTYPE_ARP, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV4]);
  });

  it('VXLAN header: readVni reads VNI 1, writeVxlan writes the same 8 bytes', () => {
    const mine = new Uint8Array(VXLAN_HLEN);
    writeVxlan(mine, 0, 1);
    expect(frames).toHaveLength(4); // the loop below must not pass on an empty capture
    for (const f of frames) {
      const { payload, dstPort } = vxlanOf(f);
      expect(dstPort).toBe(VXLAN_PORT_LINUX);
      expect(readVni(payload, 0, payload.length)).toBe(1);
      expect(payload.subarray(0, VXLAN_HLEN)).toEqual(mine);
    }
  });

  it('the kernel picks outer source ports in the range sourcePortFromHash uses', () => {
    expect(frames).toHaveLength(4);
    for (const f of frames) {
      const { srcPort } = vxlanOf(f);
      expect(srcPort).toBeGreaterThanOrEqual(SRC_PORT_MIN);
      expect(srcPort).toBeLessThan(SRC_PORT_MAX);
    }
  });

  it('inner Ethernet headers: writeEthernet reproduces them, innerEthertype accepts and refuses as a VTEP should', () => {
    const want = [
      [MAC_B, MAC_A, ETHERTYPE_ARP],
      [MAC_A, MAC_B, ETHERTYPE_ARP],
      [MAC_B, MAC_A, ETHERTYPE_IPV4],
      [MAC_A, MAC_B, ETHERTYPE_IPV4],
    ] as const;
    expect(frames).toHaveLength(want.length);
    frames.forEach((f, i) => {
      const eth = vxlanOf(f).payload.subarray(VXLAN_HLEN);
      const mine = new Uint8Array(ETH_HLEN);
      const [dst, src, type] = want[i];
      writeEthernet(mine, 0, i === 0 ? new Uint8Array(6).fill(0xff) : dst, src, type);
      expect(eth.subarray(0, ETH_HLEN)).toEqual(mine);
      const receiver = i % 2 === 0 ? MAC_B : MAC_A;
      expect(innerEthertype(eth, 0, receiver)).toBe(type);
      // Another host's VTEP must refuse unicast frames not meant for it (broadcast ARP is fine).
      expect(innerEthertype(eth, 0, parseMac('0e:2a:00:00:00:99')!)).toBe(i === 0 ? ETHERTYPE_ARP : ~DropReason.NOT_OUR_MAC);
    });
  });

  it("ARP: parses the kernel's request and writes the kernel's reply byte for byte", () => {
    const req = parseArpRequest(vxlanOf(frames[0]).payload, VXLAN_OVERHEAD, vxlanOf(frames[0]).payload.length - VXLAN_OVERHEAD);
    expect(req).not.toBeNull();
    expect(req!.senderMac).toEqual(MAC_A);
    expect(req!.senderIp).toEqual(ip4('10.5.1.0'));
    expect(req!.targetIp).toEqual(ip4('10.5.2.0'));
    const out = new Uint8Array(64);
    const n = writeArpReply(out, 0, MAC_B, req!);
    expect(out.subarray(0, n)).toEqual(vxlanOf(frames[1]).payload.subarray(VXLAN_HLEN));
    expect(parseArpRequest(vxlanOf(frames[1]).payload, VXLAN_OVERHEAD, 28)).toBeNull();
  });

  it('ICMP echo: parseIp reads the inner packets and the encapsulation rebuilt around them matches', () => {
    for (const [i, src, dst, srcMac, dstMac] of [
      [2, '10.5.1.0', '10.5.2.0', MAC_A, MAC_B],
      [3, '10.5.2.0', '10.5.1.0', MAC_B, MAC_A],
    ] as const) {
      const payload = vxlanOf(frames[i]).payload;
      const info = parseIp(payload, VXLAN_OVERHEAD, payload.length - VXLAN_OVERHEAD);
      const inner = payload.subarray(VXLAN_OVERHEAD);
      expect(info).toMatchObject({
        family: 4,
        proto: 1,
        totalLen: 84,
        headerLen: 20,
        dontFragment: (inner[6] & 0x40) !== 0,
        fragment: false,
      });
      expect(payload.subarray(info!.srcOff, info!.srcOff + 4)).toEqual(ip4(src));
      expect(payload.subarray(info!.dstOff, info!.dstOff + 4)).toEqual(ip4(dst));
      expect(ipv4HeaderValid(inner)).toBe(true);
      expect(icmpChecksumValid(inner, 0, inner.length)).toBe(true);
      const rebuilt = new Uint8Array(payload.length);
      writeVxlan(rebuilt, 0, 1);
      writeEthernet(rebuilt, VXLAN_HLEN, dstMac, srcMac, ETHERTYPE_IPV4);
      rebuilt.set(inner, VXLAN_OVERHEAD);
      expect(rebuilt).toEqual(payload);
    }
  });
});
