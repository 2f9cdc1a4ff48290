/**
 * Big-endian field access over plain byte arrays. Hand-written shifts instead of a DataView: a DataView per
 * packet would allocate, and V8 inlines these into the caller.
 */

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** Byte copy for short ranges (headers): no view allocation, unlike set(subarray()). */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}

/**
 * Copy for payloads: one memcpy. The source view it needs is the only allocation, once per segment; a plain
 * Uint8Array view is cheaper than Buffer#subarray, which builds a Buffer. One path for every length: with a
 * byte loop below some size, the first larger packet after a run of small ones (a ping after small UDP) would
 * throw away the optimized code of the receive path, which at a ping's rate stays unoptimized for seconds.
 */
export function copyPayload(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  dst.set(new Uint8Array(src.buffer, src.byteOffset + srcOff, len), dstOff);
}

export function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
