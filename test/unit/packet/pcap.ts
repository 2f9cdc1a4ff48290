/** A tiny reader for classic pcap files (what `tcpdump -w` writes): enough to get frames back for tests. */

export interface PcapFrame {
  data: Uint8Array;
  tsSec: number;
}

export function readPcap(file: Uint8Array): { linkType: number; frames: PcapFrame[] } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 24) throw new Error('pcap: too short for the global header');
  const magic = dv.getUint32(0, true);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
  else throw new Error(`pcap: bad magic 0x${magic.toString(16)}`);
  const linkType = dv.getUint32(20, little);
  const frames: PcapFrame[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    const tsSec = dv.getUint32(at, little);
    const capLen = dv.getUint32(at + 8, little);
    if (at + 16 + capLen > file.length) break;
    frames.push({ tsSec, data: Uint8Array.from(file.subarray(at + 16, at + 16 + capLen)) });
    at += 16 + capLen;
  }
  return { linkType, frames };
}
