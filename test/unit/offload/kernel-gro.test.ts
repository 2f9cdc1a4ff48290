/**
 * TCP segments as a Linux VXLAN peer sends them (kernel-pair.ts: two Flannel-style hosts over a veth), fed to
 * the Coalescer: they must merge (the peer's inner checksums are only pseudo-header sums over veth, so a
 * coalescer verifying them merges none: this guards its default) and the merged packets must carry exactly the
 * stream's bytes in order, with valid IPv4 headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coalescer } from '../../../dataplane/offload/gro.js';
import { readVirtioHdr, VirtioGso, VirtioHdr } from '../../../dataplane/packet/virtio.js';
import { PacketBatch } from '../../../dataplane/sys/types.js';
import { VXLAN_OVERHEAD } from '../../../dataplane/packet/vxlan.js';
import { ipv4HeaderValid } from '../packet/helpers.js';
import { canRunNetns, GW_A, GW_B, KernelPair, sh, vxlanOf } from '../packet/kernel-pair.js';

const pair = new KernelPair();
const BYTES = 120_000;
const PORT = 7411;

/**
 * Inner IPv4 TCP packets from A to B's port that carry data, each byte once: a segment that does not start where the
 * previous one ended is left out (on a loaded machine the sender retransmits now and then; one run in eight under
 * four CPU hogs captured a 1,170-byte segment twice).
 */
function dataSegments(frames: Uint8Array[]): Uint8Array[] {
  let next: number | undefined;
  return frames
    .map((f) => vxlanOf(f).payload.subarray(VXLAN_OVERHEAD))
    .filter((p) => p[0] === 0x45 && p[9] === 6 && ((p[22] << 8) | p[23]) === PORT && ((p[2] << 8) | p[3]) > 20 + (p[32] >> 4) * 4)
    .filter((p) => {
      const seq = ((p[24] << 24) | (p[25] << 16) | (p[26] << 8) | p[27]) >>> 0;
      if (next !== undefined && seq !== next) return false;
      next = (seq + tcpPayload(p).length) >>> 0;
      return true;
    });
}

function tcpPayload(p: Uint8Array): Uint8Array {
  return p.subarray(20 + (p[32] >> 4) * 4, (p[2] << 8) | p[3]);
}

describe.skipIf(!canRunNetns)('Coalescer on a TCP stream sent by kernel VXLAN (netns, root)', () => {
  let segs: Uint8Array[] = [];

  beforeAll(() =>
    pair.start(async () => {
      // Over a veth the peer's super-packets would cross whole; on a real wire they arrive as MSS segments.
      sh('ip', 'netns', 'exec', pair.nsA, 'ethtool', '-K', pair.vxlanA, 'tso', 'off', 'gso', 'off');
      const server = `require('net').createServer(s=>s.resume().on('end',()=>process.exit(0))).listen(${PORT},'${GW_B}')`;
      sh('ip', 'netns', 'exec', pair.nsB, 'sh', '-c', `timeout 10 ${process.execPath} -e "${server}" >/dev/null 2>&1 &`);
      const client = `setTimeout(()=>{const s=require('net').connect(${PORT},'${GW_B}',()=>{s.end(Buffer.alloc(${BYTES},7))});s.on('close',()=>process.exit(0))},500)`;
      const frames = await pair.capture(() => sh('ip', 'netns', 'exec', pair.nsA, 'timeout', '8', process.execPath, '-e', client), 0, 1000);
      segs = dataSegments(frames);
    }),
  );
  afterAll(() => pair.destroy());

  it('merges the segments and keeps every byte in order', () => {
    expect(segs.length).toBeGreaterThan(2);
    expect(segs.every((q) => q.subarray(12, 16).join('.') === GW_A && q.subarray(16, 20).join('.') === GW_B)).toBe(true);
    const c = new Coalescer();
    const out = new PacketBatch(256, 70_000);
    for (const s of segs) expect(c.add(s, 0, s.length, out)).toBe(true);
    c.finish(out);
    expect(out.count).toBeLessThan(segs.length);
    const got: number[] = [];
    let merged = 0;
    for (let i = 0; i < out.count; i++) {
      const pkt = out.buf.subarray(out.offsets[i] + 10, out.offsets[i] + out.lengths[i]);
      const hdr = readVirtioHdr(out.buf, out.offsets[i], new VirtioHdr());
      expect(ipv4HeaderValid(pkt)).toBe(true);
      if (hdr.gsoType === VirtioGso.TCPV4) merged++;
      got.push(...tcpPayload(pkt));
    }
    expect(merged).toBeGreaterThan(0);
    expect(Buffer.from(got).equals(Buffer.concat(segs.map(tcpPayload)))).toBe(true);
    expect(Buffer.from(got).equals(Buffer.alloc(BYTES, 7))).toBe(true);
  });
});
