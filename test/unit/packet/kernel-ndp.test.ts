/**
 * IPv6 Neighbor Discovery through kernel VXLAN (kernel-pair.ts with IPv6 on the VXLAN devices, addresses and
 * routes as Flannel's flannel-v6.1 has them): A's kernel solicits B's gateway address, B's kernel advertises;
 * our parser reads the solicitation and our writer produces B's advertisement byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETHERTYPE_IPV6, parseMac } from '../../../dataplane/packet/ethernet.js';
import { NDP_NEIGHBOR_ADVERT, NDP_NEIGHBOR_SOLICIT, parseNeighborSolicit, writeNeighborAdvert } from '../../../dataplane/packet/ndp.js';
import { VXLAN_HLEN } from '../../../dataplane/packet/vxlan.js';
import { ip6 } from './helpers.js';
import { canRunNetns, KernelPair, MAC_A, MAC_B, sh, vxlanOf } from './kernel-pair.js';

const pair = new KernelPair();
const V6_A = 'fd00:5:1::';
const V6_B = 'fd00:5:2::';

/** Inner Ethernet frames carrying ICMPv6 of the given type (no extension headers). */
function icmp6Frames(frames: Uint8Array[], type: number): Uint8Array[] {
  return frames
    .map((f) => vxlanOf(f).payload.subarray(VXLAN_HLEN))
    .filter((e) => ((e[12] << 8) | e[13]) === ETHERTYPE_IPV6 && e[14 + 6] === 58 && e[14 + 40] === type);
}

describe.skipIf(!canRunNetns)('NDP golden frames from kernel VXLAN (netns, root)', () => {
  let frames: Uint8Array[] = [];

  beforeAll(() =>
    pair.start(async () => {
      for (const [ns, dev, me, peer] of [
        [pair.nsA, pair.vxlanA, V6_A, V6_B],
        [pair.nsB, pair.vxlanB, V6_B, V6_A],
      ]) {
        sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=0`, `net.ipv6.conf.${dev}.addr_gen_mode=1`);
        sh('ip', '-n', ns, 'addr', 'add', `${me}/128`, 'dev', dev, 'nodad');
        sh('ip', '-n', ns, 'route', 'add', `${peer}/64`, 'via', peer, 'dev', dev, 'onlink');
      }
      frames = await pair.capture(() => sh('ip', 'netns', 'exec', pair.nsA, 'ping', '-6', '-c', '1', '-W', '3', V6_B), 0, 1000);
    }),
  );
  afterAll(() => pair.destroy());

  it("parses the kernel's solicitation and writes the kernel's advertisement byte for byte", () => {
    // A's solicitation for B's address: other solicitations in the window (B probing A, or one without a source
    // address) are not the exchange this test checks.
    const same = (e: Uint8Array, at: number, addr: string) => Buffer.from(e.subarray(at, at + 16)).equals(Buffer.from(ip6(addr)));
    const [ns] = icmp6Frames(frames, NDP_NEIGHBOR_SOLICIT).filter((e) => same(e, 14 + 8, V6_A) && same(e, 14 + 40 + 8, V6_B));
    const [na] = icmp6Frames(frames, NDP_NEIGHBOR_ADVERT);
    expect(ns).toBeDefined();
    expect(na).toBeDefined();
    const req = parseNeighborSolicit(ns, 14, ns.length - 14);
    expect(req).not.toBeNull();
    expect(req!.senderIp).toEqual(ip6(V6_A));
    expect(req!.targetIp).toEqual(ip6(V6_B));
    expect(req!.hasSenderMac).toBe(true);
    expect(req!.senderMac).toEqual(parseMac(MAC_A));
    const out = new Uint8Array(200);
    const n = writeNeighborAdvert(out, 0, parseMac(MAC_B)!, req!);
    expect(out.subarray(0, n)).toEqual(na);
    expect(parseNeighborSolicit(na, 14, na.length - 14)).toBeNull();
  });
});
