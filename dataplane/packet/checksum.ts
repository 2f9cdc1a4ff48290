/**
 * The Internet checksum (RFC 1071) with big-endian 16-bit word semantics, whatever the byte offset.
 *
 * Speed: the aligned middle of the range is read as little-endian 32-bit words through a Uint32Array over
 * the whole ArrayBuffer (cached: creating a view per call would allocate) into two accumulators. A sum of
 * 32-bit words folds to the same 16-bit sum (2^16 = 1 mod 0xffff), and the sum of byte-swapped words is the
 * byte-swapped sum (RFC 1071 §2(B)), so one swap at the end fixes the order; when the aligned part starts at
 * an odd distance from `off` the pairing is already swapped and no swap is needed.
 */
import { readU16 } from './bytes.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// A few recent ArrayBuffers and their word views: packets come from a handful of long-lived batch buffers.
// Holding them keeps at most 4 buffers alive a little longer than their owners.
const cachedBuffers: (ArrayBufferLike | null)[] = [null, null, null, null];
const cachedWords: Uint32Array[] = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)];
let cacheNext = 0;

function wordsOf(ab: ArrayBufferLike): Uint32Array {
  for (let i = 0; i < 4; i++) if (cachedBuffers[i] === ab) return cachedWords[i];
  const words = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  cachedBuffers[cacheNext] = ab;
  cachedWords[cacheNext] = words;
  cacheNext = (cacheNext + 1) & 3;
  return words;
}

function sumBytewise(buf: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (len & 1) s += buf[off + len - 1] << 8;
  return s;
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

/**
 * Ones'-complement sum of buf[off, off+len) as big-endian 16-bit words (a trailing odd byte is the high byte
 * of a zero-padded word), plus `initial`. Not folded; always below 2^32, so it can be passed back as `initial`.
 * Exact for len up to 16 MiB.
 */
export function sumBytes(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  if (len < 32 || !LITTLE_ENDIAN) {
    s += sumBytewise(buf, off, len);
  } else {
    const abs = buf.byteOffset + off;
    const head = (4 - (abs & 3)) & 3;
    for (let p = 0; p < head; p++) s += p & 1 ? buf[off + p] : buf[off + p] << 8;
    const words = wordsOf(buf.buffer);
    let i = (abs + head) >>> 2;
    const end = i + ((len - head) >>> 2);
    // Whole 32-bit words into two float accumulators: exact below 2^53, i.e. for far more than any packet
    // (2^21 words each), and about twice as fast in V8 as splitting each word into 16-bit halves.
    let a = 0;
    let b = 0;
    for (; i + 1 < end; i += 2) {
      a += words[i];
      b += words[i + 1];
    }
    if (i < end) a += words[i];
    const mid = fold(a + b);
    s += head & 1 ? mid : swap16(mid);
    for (let p = head + ((len - head) & ~3); p < len; p++) s += p & 1 ? buf[off + p] : buf[off + p] << 8;
  }
  while (s > 0xffffffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** Folds a sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

/** The checksum field value for buf[off, off+len) (the field itself zeroed, or its stored value summed in `initial`). */
export function checksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold(sumBytes(buf, off, len, initial)) & 0xffff;
}

/**
 * Unfolded sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 793/768, RFC 8200 §8.1): source and destination
 * addresses read from the IP header at ipOff, the protocol and the upper-layer length.
 */
export function pseudoHeaderSum(buf: Uint8Array, ipOff: number, family: 4 | 6, proto: number, l4Len: number): number {
  const start = ipOff + (family === 4 ? 12 : 8);
  const end = start + (family === 4 ? 8 : 32);
  let s = proto + (l4Len & 0xffff) + Math.floor(l4Len / 65536);
  for (let i = start; i < end; i += 2) s += readU16(buf, i);
  return s;
}
