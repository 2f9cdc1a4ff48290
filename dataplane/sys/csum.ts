/** Byte moving and checksums in the shim (TSO segment layout, GRO payload copies, segment checksums): see dataplane/native/src/csum.c for why this is native. */
import { loadNative } from './native.js';
import { invalid } from './validate.js';

const native = loadNative();

/**
 * Segment k starts at buf[first + k*stride] and is lengths[k] bytes (an IP packet); its transport header starts
 * l4Off bytes in and its checksum field csumOff bytes after that, holding the pseudo-header sum. Writes the final
 * checksums. isUdp: a result of 0 is sent as 0xffff.
 */
export function finishSegmentChecksums(
  buf: Uint8Array,
  first: number,
  stride: number,
  count: number,
  l4Off: number,
  csumOff: number,
  lengths: Int32Array,
  isUdp: boolean,
): void {
  const r = native.csumSegments(buf, first, stride, count, l4Off, csumOff, lengths, isUdp ? 1 : 0);
  if (r < 0)
    throw invalid(
      `finishSegmentChecksums: a segment lies outside the buffer or is too short (first ${first}, stride ${stride}, count ${count})`,
    );
}

/**
 * Copies the bytes of the TSO split of src[pktOff, pktOff+pktLen) into out: segment k at outOff + k*stride gets
 * the hdrLen header bytes and its gsoSize slice of the payload. Fields are left as in the super-packet: pass
 * segmentsCopied to tsoSplit to fix them. Returns the number of segments.
 */
export function copySegments(
  src: Uint8Array,
  pktOff: number,
  pktLen: number,
  hdrLen: number,
  gsoSize: number,
  out: Uint8Array,
  outOff: number,
  stride: number,
): number {
  const n = native.copySegments(src, pktOff, pktLen, hdrLen, gsoSize, out, outOff, stride);
  if (n < 0)
    throw invalid(
      `copySegments: the packet or its segments lie outside their buffers (packet ${pktOff}+${pktLen}, header ${hdrLen}, gso ${gsoSize}, stride ${stride})`,
    );
  return n;
}

/**
 * Runs `count` copies dst[list[3k+1], +list[3k+2]) = src[list[3k], +list[3k+2]) in one call: the GRO
 * coalescer's RangeCopier (dataplane/offload/gro.ts).
 */
export function copyRanges(src: Uint8Array, dst: Uint8Array, list: Int32Array, count: number): void {
  if (native.copyRanges(src, dst, list, count) < 0) throw invalid(`copyRanges: one of ${count} ranges lies outside its buffer`);
}

/** Folded ones'-complement sum of buf[off, off+len) as big-endian words: verifyInnerChecksums' RangeSummer. */
export function sumRange(buf: Uint8Array, off: number, len: number): number {
  const s = native.sumRange(buf, off, len);
  if (s < 0) throw invalid(`sumRange: [${off}, ${off + len}) lies outside a ${buf.length}-byte buffer`);
  return s;
}
