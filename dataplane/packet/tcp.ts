/** TCP header layout (RFC 9293 §3.1) and accessors; `off` is where the TCP header starts. */
import { readU32, writeU32 } from './bytes.js';

export const TCP_HLEN_MIN = 20;
export const TCP_HLEN_MAX = 60;
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK = 8;
export const TCP_DATA_OFFSET = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
/** Checksum field offset: the virtio csum_offset for TCP. */
export const TCP_CSUM = 16;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK_FLAG = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export function tcpSeq(buf: Uint8Array, off: number): number {
  return readU32(buf, off + TCP_SEQ);
}

export function setTcpSeq(buf: Uint8Array, off: number, seq: number): void {
  writeU32(buf, off + TCP_SEQ, seq >>> 0);
}

export function tcpAck(buf: Uint8Array, off: number): number {
  return readU32(buf, off + TCP_ACK);
}

export function tcpFlags(buf: Uint8Array, off: number): number {
  return buf[off + TCP_FLAGS];
}

/** Header length in bytes from the data offset field (not validated: callers check 20..60). */
export function tcpHeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off + TCP_DATA_OFFSET] >>> 4) * 4;
}
