/**
 * Entry of one queue worker thread. The main thread opened the TUN queue (fds are per process) and hands over its
 * fd; the worker opens its own UDP sockets (SO_REUSEPORT on the VXLAN port, plus one per outer source port),
 * reports 'ready', and runs the queue loop until the stop flag is set.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LocalConfig } from './local.js';
import { PeerView } from './routes.js';
import { peerStatsBlock, workerRow } from './stats.js';
import { QueueLoop } from './queue.js';
import { tunnelWriterFromFd, tunQueueFromFd } from './sys/tun.js';
import { openUdp } from './sys/udp.js';
import { createPoller } from './sys/poll.js';
import type { UdpBind } from './sys/types.js';

export interface WorkerInit {
  index: number;
  cfg: LocalConfig;
  tunFd: number;
  vnetHdr: boolean;
  offloadFlags: number;
  bindAddress: string;
  sourcePorts: number;
  /**
   * The outer source ports every worker binds (SO_REUSEPORT), so a flow the kernel moves to another TUN queue
   * keeps its outer source port. Empty for the first worker, which picks them and reports them when ready.
   */
  localPorts: number[];
  udpBufferBytes: number;
  gro: boolean;
  peerSab: SharedArrayBuffer;
  statsSab: SharedArrayBuffer;
  /** Per-peer counters: one block of `maxPeers` rows per worker. */
  peerStatsSab: SharedArrayBuffer;
  maxPeers: number;
  stopSab: SharedArrayBuffer;
  wakeFd: number;
  /** The tunnel TAP queue of this worker (fd owned by the main thread) and what the route needs; absent when off. */
  tunnel?: { fd: number; tapMac: Uint8Array; source: Uint8Array; offSab: SharedArrayBuffer };
}

export type WorkerMessage = { type: 'ready'; index: number; gso: boolean; gro: boolean; localPorts: number[] };

function main(init: WorkerInit): void {
  const port = parentPort!;
  const tun = tunQueueFromFd(init.tunFd, init.vnetHdr, init.offloadFlags);
  const binds: UdpBind[] = [];
  try {
    const rx = openUdp({
      family: init.cfg.family,
      address: init.bindAddress,
      port: init.cfg.port,
      reusePort: true,
      bufferBytes: init.udpBufferBytes,
      gro: init.gro,
    });
    binds.push(rx);
    const tx: UdpBind[] = [];
    for (let i = 0; i < init.sourcePorts; i++) {
      const b = openUdp({
        family: init.cfg.family,
        address: init.bindAddress,
        port: init.localPorts[i] ?? 0,
        reusePort: true,
        bufferBytes: init.udpBufferBytes,
        gro: false,
      });
      binds.push(b);
      tx.push(b);
    }
    const poller = createPoller(tun, rx, init.wakeFd);
    const t = init.tunnel;
    const loop = new QueueLoop({
      cfg: init.cfg,
      tun,
      rx,
      tx: tx.length > 0 ? tx : [rx],
      poller,
      peers: new PeerView(init.peerSab),
      stats: workerRow(init.statsSab, init.index),
      peerStats: peerStatsBlock(init.peerStatsSab, init.index, init.maxPeers),
      stop: new Int32Array(init.stopSab),
      failIndex: init.index,
      tunnel: t && {
        writer: tunnelWriterFromFd(t.fd),
        tapMac: t.tapMac,
        source: t.source,
        off: new Int32Array(t.offSab),
      },
    });
    port.postMessage({
      type: 'ready',
      index: init.index,
      gso: tx.every((b) => b.gso),
      gro: rx.gro,
      localPorts: tx.map((b) => b.localPort),
    } satisfies WorkerMessage);
    loop.runUntilStopped();
    poller.close();
  } finally {
    // The TUN fd belongs to the main thread: a restarted worker reuses it.
    for (const b of binds) b.close();
  }
}

main(workerData as WorkerInit);
