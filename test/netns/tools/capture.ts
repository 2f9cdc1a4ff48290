/**
 * What crossed the underlay, as a user with tcpdump would see it: capture on a host's veth while an action runs,
 * then take each frame apart by fixed offsets (outer Ethernet / IPv4 or IPv6 / UDP / VXLAN / inner Ethernet)
 * without the codecs under test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostName, Testbed } from '../../../bench/testbed/index.js';
import { readPcap } from '../../unit/packet/pcap.js';
import { waitFor } from '../harness.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface VxlanDatagram {
  readonly outerFamily: 4 | 6;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly udpChecksum: number;
  /** The 8 VXLAN header bytes. */
  readonly vxlan: Uint8Array;
  readonly innerDstMac: string;
  readonly innerSrcMac: string;
  readonly innerEtherType: number;
  /** The inner IP packet (as far as the snap length kept it). */
  readonly inner: Uint8Array;
  /**
   * Datagrams in this frame: a capture on a veth sees a UDP_SEGMENT send before the kernel splits it, as one
   * frame holding equal-sized VXLAN datagrams back to back (the outer UDP length covers them all).
   */
  readonly segments: number;
}

const LINKTYPE_ETHERNET = 1;
/** Enough for every header of interest: outer Ethernet + IPv6 + UDP + VXLAN + inner Ethernet + IPv6 + TCP. */
const SNAP_LEN = 256;

/**
 * Runs tcpdump on the host's underlay veth with a BPF filter while `action` runs; returns the datagrams it saw and
 * the frames as captured (the first `snapLen` bytes of each).
 */
export async function captureVxlan<T>(tb: Testbed, host: HostName, filter: string[], action: () => Promise<T>, snapLen = SNAP_LEN) {
  const dir = mkdtempSync(join(tmpdir(), `vxtun-pcap-${tb.prefix}-`));
  const file = join(dir, 'capture.pcap');
  // -Z root: keep writing into our 0700 directory (tcpdump may drop to its own user). --immediate-mode and -U:
  // hand each packet to the file at once; otherwise a stop discards what still sits in the capture buffer.
  const dump = tb.spawn(host, [
    'tcpdump',
    '-i',
    tb.hosts[host].dev,
    '-Z',
    'root',
    '--immediate-mode',
    '-U',
    '-n',
    '-s',
    String(snapLen),
    '-w',
    file,
    ...filter,
  ]);
  try {
    await waitFor(() => dump.output().includes('listening on'), 5_000, 'tcpdump to start');
    const result = await action();
    await sleep(200);
    await dump.stop(2000);
    const pcap = readPcap(readFileSync(file));
    if (pcap.linkType !== LINKTYPE_ETHERNET) throw new Error(`capture link type ${pcap.linkType}, expected Ethernet`);
    const datagrams = pcap.frames.map((f) => parseVxlanFrame(f.data)).filter((d): d is VxlanDatagram => d !== null);
    return { result, datagrams, frames: pcap.frames.length, raw: pcap.frames.map((f) => f.data) };
  } finally {
    await dump.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One captured Ethernet frame as a VXLAN datagram, or null when it is not UDP over IPv4/IPv6. */
export function parseVxlanFrame(f: Uint8Array): VxlanDatagram | null {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const etherType = dv.getUint16(12);
  let udp: number;
  let outerFamily: 4 | 6;
  if (etherType === 0x0800) {
    if (f[14 + 9] !== 17) return null;
    outerFamily = 4;
    udp = 14 + (f[14] & 0x0f) * 4;
  } else if (etherType === 0x86dd) {
    if (f[14 + 6] !== 17) return null;
    outerFamily = 6;
    udp = 14 + 40;
  } else return null;
  const vx = udp + 8;
  const eth = vx + 8;
  if (f.length < eth + 14) return null;
  return {
    outerFamily,
    srcPort: dv.getUint16(udp),
    dstPort: dv.getUint16(udp + 2),
    udpChecksum: dv.getUint16(udp + 6),
    vxlan: f.slice(vx, vx + 8),
    innerDstMac: mac(f, eth),
    innerSrcMac: mac(f, eth + 6),
    innerEtherType: dv.getUint16(eth + 12),
    inner: f.slice(eth + 14),
    segments: segmentsIn(dv, udp, eth),
  };
}

function segmentsIn(dv: DataView, udp: number, eth: number): number {
  const type = dv.getUint16(eth + 12);
  const ip = eth + 14;
  if (dv.byteLength < ip + 6) return 1;
  const innerLen = type === 0x0800 ? dv.getUint16(ip + 2) : type === 0x86dd ? 40 + dv.getUint16(ip + 4) : 0;
  const one = 8 + 14 + innerLen;
  const payload = dv.getUint16(udp + 4) - 8;
  return innerLen > 0 && payload > one && payload % one === 0 ? payload / one : 1;
}

function mac(b: Uint8Array, off: number): string {
  return [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Inner TCP/UDP source port of an inner IPv4/IPv6 packet (no extension headers), or -1. */
export function innerSourcePort(inner: Uint8Array): number {
  const v4 = inner[0] >> 4 === 4;
  const proto = v4 ? inner[9] : inner[6];
  if (proto !== 6 && proto !== 17) return -1;
  const l4 = v4 ? (inner[0] & 0x0f) * 4 : 40;
  return inner.length >= l4 + 2 ? (inner[l4] << 8) | inner[l4 + 1] : -1;
}
