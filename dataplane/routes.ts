/**
 * The subnet -> peer table, shared with the queue workers through a SharedArrayBuffer.
 * One writer (the main thread, on setPeers) and many readers (workers, once per loop turn): a seqlock.
 * The writer makes the version odd, rewrites the entries, and makes it even again; a reader that sees the
 * version change copies the entries into its own lookup maps and retries if the version moved meanwhile.
 * No message and no lock per packet.
 */
import { VxtunError } from './errors.js';
import { readU32 } from './packet/bytes.js';
import { cidrsOverlap, parseCidr, parseIpBytes, parseMacBytes, type Cidr } from './address.js';

export interface Peer {
  /** Underlay address the peer receives VXLAN on (IPv4 or IPv6). */
  publicIp: string;
  /** The peer's IPv4 overlay subnet, e.g. 10.244.2.0/24. */
  subnet?: string;
  /** The peer's IPv6 overlay subnet, e.g. fd10:244:2::/64. */
  ipv6Subnet?: string;
  /** The peer's VTEP MAC (frames to it carry this destination). */
  vtepMac: string;
  /** VTEP MAC for IPv6 inner traffic when it differs (Flannel's flannel-v6.1 device); default vtepMac. */
  ipv6VtepMac?: string;
}

const ENTRY = 64;
const HAS_V4 = 1;
const HAS_V6 = 2;
// entry layout: [0] public family, [1] v4 prefix len, [2] v6 prefix len, [3] flags,
// [4..20) public ip, [20..24) v4 subnet, [24..40) v6 subnet, [40..46) mac, [46..52) mac for v6,
// [52..54) counter slot (little-endian)
const O_PUB = 4,
  O_S4 = 20,
  O_S6 = 24,
  O_MAC = 40,
  O_MAC6 = 46,
  O_SLOT = 52;

/** Default size of the peer table, and of the per-peer counter rows. */
export const MAX_PEERS = 4096;

/** This host's own overlay subnets, as the peers are checked against them. */
export interface OwnSubnets {
  subnet?: string;
  ipv6Subnet?: string;
}

/**
 * Refuses a peer list that cannot be routed: a peer subnet equal to ours, inside ours or covering ours, or two peers
 * whose subnets overlap. The error names the field (`peers[2].subnet`), as a config file's user would look for it.
 */
export function checkPeerSubnets(own: OwnSubnets, peers: readonly Peer[]): void {
  for (const field of ['subnet', 'ipv6Subnet'] as const) {
    const ownText = own[field];
    const mine = ownText ? parseCidr(ownText, field) : null;
    const listed: { cidr: Cidr; index: number; text: string }[] = [];
    peers.forEach((p, index) => {
      const text = p[field];
      if (!text) return;
      const cidr = parseCidr(text, `peers[${index}].${field}`);
      if (mine && cidrsOverlap(cidr, mine)) {
        const same = cidr.prefixLen === mine.prefixLen;
        throw new VxtunError(
          'VXTUN_ERR_CONFIG',
          `peers[${index}].${field}: ${text} ${same ? `is our own ${field}` : `overlaps our ${field} ${ownText}`}; ` +
            "every host needs a subnet of its own that no other host's subnet covers",
        );
      }
      listed.push({ cidr, index, text });
    });
    // Sorted by address, any overlap shows up between neighbours: whatever lies between a subnet and one it holds
    // starts inside it too.
    listed.sort((x, y) => compareBytes(x.cidr.addr, y.cidr.addr) || x.cidr.prefixLen - y.cidr.prefixLen);
    for (let i = 1; i < listed.length; i++) {
      if (!cidrsOverlap(listed[i - 1].cidr, listed[i].cidr)) continue;
      const [first, second] = listed[i - 1].index < listed[i].index ? [listed[i - 1], listed[i]] : [listed[i], listed[i - 1]];
      throw new VxtunError(
        'VXTUN_ERR_CONFIG',
        `peers[${second.index}].${field}: ${second.text} overlaps peers[${first.index}].${field} ${first.text}; ` +
          'every host needs a subnet of its own',
      );
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The writer side, owned by the main thread. */
export class PeerTable {
  readonly sab: SharedArrayBuffer;
  readonly maxPeers: number;
  private readonly meta: Int32Array;
  private readonly data: Uint8Array;

  /**
   * Each peer keeps its counter slot for as long as it stays in the list (identified by public IP and subnets),
   * so its counters survive a reload; a freed slot goes to the next new peer.
   */
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[];

  constructor(maxPeers = MAX_PEERS, sab?: SharedArrayBuffer) {
    this.freeSlots = Array.from({ length: maxPeers }, (_, i) => maxPeers - 1 - i);
    this.maxPeers = maxPeers;
    this.sab = sab ?? new SharedArrayBuffer(16 + maxPeers * ENTRY);
    this.meta = new Int32Array(this.sab, 0, 4);
    this.data = new Uint8Array(this.sab, 16);
  }

  /**
   * Validates every peer first, so a bad list changes nothing. Returns each peer's counter slot, and the slots
   * newly given out (their counters start from what the slot holds now).
   */
  set(peers: readonly Peer[]): { slots: number[]; fresh: number[] } {
    if (peers.length > this.maxPeers) {
      throw new VxtunError('VXTUN_ERR_CONFIG', `${peers.length} peers exceed the table size ${this.maxPeers}`);
    }
    const encoded = peers.map((p, i) => encodePeer(p, `peers[${i}]`));
    const keys = peers.map(peerKey);
    const keep = new Set(keys);
    for (const [key, slot] of this.slotOf) {
      if (!keep.has(key)) {
        this.slotOf.delete(key);
        this.freeSlots.push(slot);
      }
    }
    const fresh: number[] = [];
    const slots = keys.map((key) => {
      let slot = this.slotOf.get(key);
      if (slot === undefined) {
        slot = this.freeSlots.pop()!;
        this.slotOf.set(key, slot);
        fresh.push(slot);
      }
      return slot;
    });
    encoded.forEach((e, i) => {
      e[O_SLOT] = slots[i] & 0xff;
      e[O_SLOT + 1] = slots[i] >> 8;
    });
    Atomics.add(this.meta, 0, 1); // odd: writing
    this.data.fill(0, 0, peers.length * ENTRY);
    encoded.forEach((e, i) => this.data.set(e, i * ENTRY));
    Atomics.store(this.meta, 1, peers.length);
    Atomics.add(this.meta, 0, 1); // even: stable
    return { slots, fresh };
  }
}

function peerKey(p: Peer): string {
  return `${p.publicIp} ${p.subnet ?? ''} ${p.ipv6Subnet ?? ''}`;
}

function encodePeer(p: Peer, what: string): Uint8Array {
  const e = new Uint8Array(ENTRY);
  const pub = parseIpBytes(p.publicIp);
  if (!pub) throw new VxtunError('VXTUN_ERR_CONFIG', `${what}.publicIp: "${p.publicIp}" is not an IP address`);
  e[0] = pub.length === 4 ? 4 : 6;
  e.set(pub, O_PUB);
  if (!p.subnet && !p.ipv6Subnet) throw new VxtunError('VXTUN_ERR_CONFIG', `${what}: needs subnet or ipv6Subnet`);
  if (p.subnet) {
    const c = parseCidr(p.subnet, `${what}.subnet`);
    if (c.family !== 4) throw new VxtunError('VXTUN_ERR_CONFIG', `${what}.subnet must be IPv4 (use ipv6Subnet)`);
    e[1] = c.prefixLen;
    e[3] |= HAS_V4;
    e.set(c.addr, O_S4);
  }
  if (p.ipv6Subnet) {
    const c = parseCidr(p.ipv6Subnet, `${what}.ipv6Subnet`);
    if (c.family !== 6) throw new VxtunError('VXTUN_ERR_CONFIG', `${what}.ipv6Subnet must be IPv6`);
    e[2] = c.prefixLen;
    e[3] |= HAS_V6;
    e.set(c.addr, O_S6);
  }
  e.set(parseMacBytes(p.vtepMac, `${what}.vtepMac`), O_MAC);
  e.set(parseMacBytes(p.ipv6VtepMac ?? p.vtepMac, `${what}.ipv6VtepMac`), O_MAC6);
  return e;
}

/** One peer as a worker sees it. Fields are fixed at construction. */
export class PeerEntry {
  readonly family: 4 | 6;
  readonly publicIp: Uint8Array;
  readonly mac: Uint8Array;
  readonly mac6: Uint8Array;
  readonly subnet4: number; // as uint32
  readonly mask4: number;
  readonly hasV4: boolean;
  readonly subnet6: Uint8Array;
  readonly prefix6: number;
  readonly hasV6: boolean;
  /** Row of this peer's counters in the per-peer stats. */
  readonly slot: number;
  constructor(e: Uint8Array) {
    this.slot = e[O_SLOT] | (e[O_SLOT + 1] << 8);
    this.family = e[0] === 6 ? 6 : 4;
    this.publicIp = e.slice(O_PUB, O_PUB + (this.family === 4 ? 4 : 16));
    this.mac = e.slice(O_MAC, O_MAC + 6);
    this.mac6 = e.slice(O_MAC6, O_MAC6 + 6);
    this.hasV4 = (e[3] & HAS_V4) !== 0;
    this.hasV6 = (e[3] & HAS_V6) !== 0;
    this.mask4 = e[1] === 0 ? 0 : (0xffffffff << (32 - e[1])) >>> 0;
    this.subnet4 = ((e[O_S4] << 24) | (e[O_S4 + 1] << 16) | (e[O_S4 + 2] << 8) | e[O_S4 + 3]) >>> 0;
    this.subnet6 = e.slice(O_S6, O_S6 + 16);
    this.prefix6 = e[2];
  }

  contains4(addr: number): boolean {
    return this.hasV4 && (addr & this.mask4) >>> 0 === this.subnet4;
  }

  contains6(buf: Uint8Array, off: number): boolean {
    if (!this.hasV6) return false;
    return prefixMatch(buf, off, this.subnet6, this.prefix6);
  }
}

export function prefixMatch(buf: Uint8Array, off: number, prefix: Uint8Array, prefixLen: number): boolean {
  let bits = prefixLen;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((buf[off + i] & mask) !== (prefix[i] & mask)) return false;
  }
  return true;
}

/** The reader side, one per worker. refresh() once per loop turn; lookups are map reads. */
export class PeerView {
  private readonly meta: Int32Array;
  private readonly data: Uint8Array;
  private version = -1;
  peers: PeerEntry[] = [];
  private byPublic4 = new Map<number, PeerEntry>();
  private byPublic6 = new Map<string, PeerEntry>();
  /** v4 subnet lookup: one map per distinct prefix length, longest first. */
  private v4Masks: number[] = [];
  private v4Maps: Map<number, PeerEntry>[] = [];

  constructor(sab: SharedArrayBuffer) {
    this.meta = new Int32Array(sab, 0, 4);
    this.data = new Uint8Array(sab, 16);
  }

  /** Returns true when the table changed. Bounded: gives up after 100 tries of a torn read (writer busy). */
  refresh(): boolean {
    const v = Atomics.load(this.meta, 0);
    if (v === this.version) return false;
    for (let attempt = 0; attempt < 100; attempt++) {
      const v1 = Atomics.load(this.meta, 0);
      if (v1 & 1) continue;
      const n = Atomics.load(this.meta, 1);
      const copy = this.data.slice(0, n * ENTRY);
      if (Atomics.load(this.meta, 0) !== v1) continue;
      this.rebuild(copy, n);
      this.version = v1;
      return true;
    }
    return false;
  }

  private rebuild(copy: Uint8Array, n: number): void {
    const peers: PeerEntry[] = [];
    for (let i = 0; i < n; i++) peers.push(new PeerEntry(copy.subarray(i * ENTRY, (i + 1) * ENTRY)));
    this.peers = peers;
    this.byPublic4 = new Map();
    this.byPublic6 = new Map();
    const byLen = new Map<number, Map<number, PeerEntry>>();
    for (const p of peers) {
      if (p.family === 4) this.byPublic4.set(readU32(p.publicIp, 0), p);
      else this.byPublic6.set(Buffer.from(p.publicIp).toString('hex'), p);
      if (p.hasV4) {
        let m = byLen.get(p.mask4);
        if (!m) byLen.set(p.mask4, (m = new Map()));
        m.set(p.subnet4, p);
      }
    }
    const masks = [...byLen.keys()].sort((a, b) => b - a); // longer prefix = larger mask value
    this.v4Masks = masks;
    this.v4Maps = masks.map((m) => byLen.get(m)!);
  }

  routeV4(dst: number): PeerEntry | undefined {
    for (let i = 0; i < this.v4Masks.length; i++) {
      const p = this.v4Maps[i].get((dst & this.v4Masks[i]) >>> 0);
      if (p !== undefined) return p;
    }
    return undefined;
  }

  routeV6(buf: Uint8Array, off: number): PeerEntry | undefined {
    let best: PeerEntry | undefined;
    for (const p of this.peers) {
      if (p.contains6(buf, off) && (!best || p.prefix6 > best.prefix6)) best = p;
    }
    return best;
  }

  /** The peer that owns an underlay source address (addr is 4 or 16 bytes at off). */
  bySource(family: number, buf: Uint8Array, off: number): PeerEntry | undefined {
    if (family === 4) return this.byPublic4.get(readU32(buf, off));
    return this.byPublic6.get(Buffer.from(buf.buffer, buf.byteOffset + off, 16).toString('hex'));
  }
}
