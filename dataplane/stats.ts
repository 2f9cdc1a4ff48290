import { DROP_REASON_NAMES } from './packet/drops.js';

/**
 * Per-worker counters in shared memory: each worker writes only its own row (plain stores, one writer),
 * the main thread sums the rows when asked. Float64 holds exact integers up to 2^53 (9 PB of bytes).
 */
export const COUNTERS = [
  'txPackets', // inner packets taken from the TUN and sent to a peer (after TSO split: segments)
  'txBytes', // inner IP bytes of those packets
  'txDatagrams', // VXLAN datagrams handed to the UDP socket
  'txSyscalls', // sendmmsg calls
  'rxPackets', // inner packets written to the TUN (before GRO coalescing: segments)
  'rxBytes',
  'rxDatagrams', // VXLAN datagrams received (after splitting UDP GRO messages)
  'rxSyscalls', // recvmmsg calls
  'tunReads', // packets read from the TUN (super-packets count once)
  'tunWrites', // packets written to the TUN (coalesced packets count once)
  'arpReplies',
  'ndpReplies', // Neighbor Advertisements sent for our IPv6 gateway
  'icmpTooBig',
  'gsoFallbacks', // UDP_SEGMENT turned off after a send error
  'tunnelWrites', // TSO super-packets written whole to the tunnel TAP (the kernel segments them on the underlay)
  'tunnelFallbacks', // tunnel TAP writes that failed: that super-packet was split instead (and every later one, unless EINVAL)
  'socketOverflows', // datagrams the kernel dropped at this worker's receive socket (SO_RXQ_OVFL), across restarts
] as const;

/**
 * Per-peer counters, one row of PEER_COUNTERS per peer-table slot in each worker's block (one writer per block).
 * `lastRxMs` is the wall-clock time of the last packet delivered from the peer, set once per receive batch.
 */
const PEER_COUNTERS = ['txPackets', 'txBytes', 'rxPackets', 'rxBytes', 'lastRxMs'] as const;
export const PEER_ROW = PEER_COUNTERS.length;
export const P_TX_PACKETS = 0,
  P_TX_BYTES = 1,
  P_RX_PACKETS = 2,
  P_RX_BYTES = 3,
  P_LAST_RX = 4;

export function createPeerStatsBuffer(workers: number, maxPeers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * maxPeers * PEER_ROW * 8);
}

/** One worker's block of per-peer rows. */
export function peerStatsBlock(sab: SharedArrayBuffer, worker: number, maxPeers: number): Float64Array {
  return new Float64Array(sab, worker * maxPeers * PEER_ROW * 8, maxPeers * PEER_ROW);
}

/** One peer slot summed over the workers (lastRxMs: the latest). */
export function readPeerSlot(sab: SharedArrayBuffer, workers: number, maxPeers: number, slot: number): number[] {
  const out = new Array<number>(PEER_ROW).fill(0);
  for (let w = 0; w < workers; w++) {
    const block = peerStatsBlock(sab, w, maxPeers);
    for (let k = 0; k < PEER_ROW; k++) {
      const v = block[slot * PEER_ROW + k];
      out[k] = k === P_LAST_RX ? Math.max(out[k], v) : out[k] + v;
    }
  }
  return out;
}

/** Drop reasons by name, in the order of packet/drops.ts (camelCase: `NO_ROUTE` is logged as `noRoute`). */
export const DROP_REASONS: readonly string[] = DROP_REASON_NAMES.map((n) =>
  n.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
);

export type CounterName = (typeof COUNTERS)[number];
/** A drop reason as counted and logged (camelCase of packet/drops.ts's DropReasonName). */
export type DropCounterName = string;

export const ROW = COUNTERS.length + DROP_REASONS.length;
export const DROP_BASE = COUNTERS.length;

export function counterIndex(name: CounterName): number {
  return COUNTERS.indexOf(name);
}
/** Where a worker counts a drop: the index of its stats row for a DropReason value (`~r` of a codec's result). */
export function dropIndex(reason: number): number {
  return DROP_BASE + reason;
}

/** Packets the kernel dropped on the dataplane's behalf, as the kernel counts them. */
export interface KernelDrops {
  /** The TUN's transmit drops: packets routed into the TUN while its queues were full (vxtun read too slowly). */
  tunTxQueue: number;
  /** Datagrams dropped at the workers' receive sockets, buffer full (SO_RXQ_OVFL; the sum of socketOverflows). */
  socketOverflow: number;
}

export interface DataplaneStats {
  counters: Record<CounterName, number>;
  kernelDrops: KernelDrops;
  drops: Record<DropCounterName, number>;
  perWorker: { counters: Record<CounterName, number>; drops: Record<DropCounterName, number> }[];
}

export function createStatsBuffer(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * ROW * 8);
}

export function workerRow(sab: SharedArrayBuffer, worker: number): Float64Array {
  return new Float64Array(sab, worker * ROW * 8, ROW);
}

/** Sums the workers' rows; tunTxQueue is the kernel's TUN transmit-drop count, read by the caller. */
export function readStats(sab: SharedArrayBuffer, workers: number, tunTxQueue = 0): DataplaneStats {
  const rows = Array.from({ length: workers }, (_, w) => toRecord(workerRow(sab, w)));
  const total = toRecord(new Float64Array(ROW));
  for (const r of rows) {
    for (const k of COUNTERS) total.counters[k] += r.counters[k];
    for (const k of DROP_REASONS) total.drops[k] += r.drops[k];
  }
  return {
    counters: total.counters,
    kernelDrops: { tunTxQueue, socketOverflow: total.counters.socketOverflows },
    drops: total.drops,
    perWorker: rows,
  };
}

function toRecord(row: Float64Array) {
  const counters = Object.fromEntries(COUNTERS.map((k, i) => [k, row[i]])) as Record<CounterName, number>;
  const drops = Object.fromEntries(DROP_REASONS.map((k, i) => [k, row[DROP_BASE + i]])) as Record<DropCounterName, number>;
  return { counters, drops };
}
