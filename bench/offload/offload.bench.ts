/**
 * Cost of the per-byte work on the packet path: checksums, TSO split (TUN -> wire) and GRO coalescing
 * (wire -> TUN) of one 64 KB TCP super-packet of 1448-byte segments. Run: npx vitest bench --run bench/offload
 * Bytes per second = payload bytes (65,160 per super-packet) × hz.
 */
import { bench, describe } from 'vitest';
import { checksum } from '../../dataplane/packet/checksum.js';
import { IpInfo, parseIp } from '../../dataplane/packet/ip.js';
import { Coalescer } from '../../dataplane/offload/gro.js';
import { maxSegmentLen, tsoSplit } from '../../dataplane/offload/tso.js';
import { VirtioGso, VirtioHdr } from '../../dataplane/packet/virtio.js';
import { PacketBatch } from '../../dataplane/sys/types.js';
import { copyRanges, copySegments, finishSegmentChecksums } from '../../dataplane/sys/csum.js';

const MSS = 1448;
const SEGS = 45;
const IPH = 20;
const THL = 32;

function superPacket(): Uint8Array {
  const len = IPH + THL + MSS * SEGS;
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (i * 131) & 0xff;
  p.set([0x45, 0, len >> 8, len & 0xff, 0, 1, 0x40, 0, 64, 6], 0);
  p.set([10, 5, 1, 2, 10, 5, 2, 3], 12);
  p[IPH + 12] = (THL / 4) << 4;
  p[IPH + 13] = 0x10;
  return p;
}

const pkt = superPacket();
const hdr = Object.assign(new VirtioHdr(), { flags: 1, gsoType: VirtioGso.TCPV4, gsoSize: MSS, csumStart: IPH, csumOffset: 16 });
const HEADROOM = 32;
const stride = HEADROOM + maxSegmentLen(pkt, 0, pkt.length, hdr);
const wire = Buffer.alloc(stride * 64);
const lengths = new Int32Array(64);
const n = tsoSplit(pkt, 0, pkt.length, hdr, { out: wire, outOff: 0, stride, headroom: HEADROOM, maxSegs: 64, lengths });
if (n !== SEGS) throw new Error(`split gave ${n} segments`);
const out = new PacketBatch(8, 70_000);
const trusting = new Coalescer();
const deferring = new Coalescer({ copier: copyRanges });

const seen = new IpInfo();

/** callerParses: each segment is parsed first, as dataplane/rx.ts does to check it; reuse: that parse is passed on. */
function coalesce(c: Coalescer, callerParses = false, reuse = false): void {
  out.count = 0;
  for (let k = 0; k < SEGS; k++) {
    const at = k * stride + HEADROOM;
    const ip = callerParses ? parseIp(wire, at, lengths[k], seen) : null;
    c.add(wire, at, lengths[k], out, reuse ? ip : null);
  }
  c.finish(out);
  if (out.count !== 1) throw new Error(`coalesced into ${out.count}`);
}

describe('checksum', () => {
  bench('1448 B', () => {
    checksum(pkt, 52, 1448);
  });
  bench('1448 B, odd offset', () => {
    checksum(pkt, 53, 1448);
  });
  bench('64 KB', () => {
    checksum(pkt, 0, 65_000);
  });
});

describe('64 KB TCP super-packet, 45 segments', () => {
  bench('tsoSplit (copy + IPv4/TCP headers + full checksums)', () => {
    tsoSplit(pkt, 0, pkt.length, hdr, { out: wire, outOff: 0, stride, headroom: HEADROOM, maxSegs: 64, lengths });
  });
  bench('tsoSplit with the copy in JS, checksums in the shim', () => {
    const m = tsoSplit(pkt, 0, pkt.length, hdr, {
      out: wire,
      outOff: 0,
      stride,
      headroom: HEADROOM,
      maxSegs: 64,
      lengths,
      partialChecksums: true,
    });
    finishSegmentChecksums(wire, HEADROOM, stride, m, IPH, 16, lengths, false);
  });
  bench('as dataplane/tx.ts: copySegments + tsoSplit fields + checksums in the shim', () => {
    copySegments(pkt, 0, pkt.length, IPH + THL, MSS, wire, HEADROOM, stride);
    const m = tsoSplit(pkt, 0, pkt.length, hdr, {
      out: wire,
      outOff: 0,
      stride,
      headroom: HEADROOM,
      maxSegs: 64,
      lengths,
      partialChecksums: true,
      segmentsCopied: true,
    });
    finishSegmentChecksums(wire, HEADROOM, stride, m, IPH, 16, lengths, false);
  });
  bench('Coalescer add x45 + finish, trusting the outer checksum', () => coalesce(trusting));
  bench('trusting, payload copies in one shim call, caller and coalescer each parse', () => coalesce(deferring, true));
  bench("as dataplane/rx.ts: the same, the caller's parse passed on", () => coalesce(deferring, true, true));
});
