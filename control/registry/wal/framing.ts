import { crc32 } from 'node:zlib';

/**
 * A record on disk: u32le payload length, u32le CRC-32 of the payload, payload (UTF-8 JSON).
 * A crash can leave the last frame short or with a bad CRC; readers stop there and never half-apply it.
 */
const HEADER = 8;
/** A frame longer than this is damage, not data (requests are capped at 1.5 MiB). */
const MAX_PAYLOAD = 64 * 1024 * 1024;

export function encodeFrame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  body.copy(frame, HEADER);
  return frame;
}

/** Decodes whole frames; `validBytes` is where the intact prefix ends. */
export function decodeFrames(buf: Buffer): { payloads: string[]; validBytes: number } {
  const payloads: string[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len > MAX_PAYLOAD || off + HEADER + len > buf.length) break;
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(body) !== buf.readUInt32LE(off + 4)) break;
    payloads.push(body.toString('utf8'));
    off += HEADER + len;
  }
  return { payloads, validBytes: off };
}
