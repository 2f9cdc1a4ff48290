/**
 * One queue: a TUN queue and its UDP sockets, both directions, on one thread. Busy while there is work, then
 * blocks in poll() on the TUN, the receive socket and a wake-up fd, so stop() reaches it at once.
 *
 * Sparse traffic (a ping, a request/response) pays for every syscall and JS pass between two sleeps, each made
 * on cold caches: after poll() only the sources it reported are read, and a pass that moved at most
 * SPARSE_PASS packets goes back to poll() (which returns at once when more is queued) instead of making a
 * second pass over both sources that finds them empty. A busier pass is followed by another pass at once.
 */
import { PacketBatch, READY_TUN, READY_UDP, type Poller, type TunQueue, type UdpBind } from './sys/types.js';
import type { LocalConfig } from './local.js';
import { PeerView } from './routes.js';
import { Encapsulator, type TunnelRoute } from './tx.js';
import { Decapsulator } from './rx.js';
import { VIRTIO_NET_HDR_LEN } from './packet/virtio.js';
import { counterIndex, dropIndex } from './stats.js';
import { DropReason } from './packet/drops.js';

const C_SOCKET_OVERFLOWS = counterIndex('socketOverflows');
const D_TRUNCATED = dropIndex(DropReason.TRUNCATED);

/** Packets per TUN read batch and messages per recvmmsg (each up to 64 KB with GSO/GRO). */
const TUN_BATCH = 32;
const UDP_BATCH = 32;
/** Room for the largest read (virtio header + 64 KB) behind the largest headroom (the tunnel route's 88 + 24 bytes). */
const SLOT = 65536 + VIRTIO_NET_HDR_LEN + 128;
/** poll() timeout: how often an idle queue re-reads the peer table and the stop flag without a wake-up. */
const IDLE_POLL_MS = 250;
/** Packets (TUN reads plus UDP messages) up to which a pass counts as sparse: poll() next, not another pass. */
const SPARSE_PASS = 2;
const READY_BOTH = READY_TUN | READY_UDP;

export interface QueueDeps {
  cfg: LocalConfig;
  tun: TunQueue;
  /** Receives VXLAN on the configured port (SO_REUSEPORT: one per queue). */
  rx: UdpBind;
  /** Send sockets, one per outer source port. */
  tx: UdpBind[];
  poller: Poller;
  peers: PeerView;
  stats: Float64Array;
  /** This worker's per-peer counter rows (stats.ts peerStatsBlock). */
  peerStats?: Float64Array;
  /** stop[0] !== 0 ends the loop; stop[1 + failIndex] !== 0 makes it throw (Dataplane.failWorker, a test hook). */
  stop: Int32Array;
  failIndex?: number;
  /** Super-packets go whole through the tunnel TAP (Linux 6.17+), when set. */
  tunnel?: TunnelRoute | null;
}

export class QueueLoop {
  private readonly d: QueueDeps;
  private readonly enc: Encapsulator;
  private readonly dec: Decapsulator;
  private readonly tunBatch: PacketBatch;
  private readonly udpBatch: PacketBatch;
  /** socketOverflows of sockets this worker's earlier incarnations had (a restart opens new ones, counting from 0). */
  private readonly overflowBase: number;
  /** Likewise for truncated messages. */
  private readonly truncatedBase: number;

  constructor(d: QueueDeps) {
    this.d = d;
    this.enc = new Encapsulator(d.cfg, d.peers, d.stats, d.tun, d.tx, d.peerStats, d.tunnel ?? null);
    this.dec = new Decapsulator(d.cfg, d.peers, d.stats, d.tun, d.rx, d.peerStats);
    this.tunBatch = new PacketBatch(TUN_BATCH, SLOT);
    this.udpBatch = new PacketBatch(UDP_BATCH, SLOT);
    this.overflowBase = d.stats[C_SOCKET_OVERFLOWS];
    this.truncatedBase = d.stats[D_TRUNCATED];
    d.peers.refresh();
  }

  /** One pass over both directions without blocking. Returns true when any packet moved. */
  turn(): boolean {
    return this.pass(READY_BOTH) > 0;
  }

  /** One pass over the sources in `ready` (READY_* bits); returns the TUN packets plus UDP messages it moved. */
  private pass(ready: number): number {
    this.d.peers.refresh();
    const n = (ready & READY_TUN) !== 0 ? this.d.tun.read(this.tunBatch, this.enc.readHeadroom) : 0;
    if (n > 0) this.enc.process(this.tunBatch, n);
    const m = (ready & READY_UDP) !== 0 ? this.d.rx.recv(this.udpBatch, this.dec.recvHeadroom) : 0;
    if (m > 0) {
      this.dec.process(this.udpBatch, m);
      this.d.stats[C_SOCKET_OVERFLOWS] = this.overflowBase + this.d.rx.overflows;
      this.d.stats[D_TRUNCATED] = this.truncatedBase + this.d.rx.truncated;
    }
    return n + m;
  }

  /** Runs for the life of the worker thread, until stop[0] is set (and the poller woken). */
  runUntilStopped(): void {
    const { poller, stop } = this.d;
    let ready = READY_BOTH;
    const fail = 1 + (this.d.failIndex ?? -1);
    while (Atomics.load(stop, 0) === 0) {
      if (fail > 0 && Atomics.load(stop, fail) !== 0)
        throw new Error(`queue ${fail - 1}: failure forced by Dataplane.failWorker (test hook)`);
      if ((ready & READY_BOTH) !== 0 && this.pass(ready) > SPARSE_PASS) {
        ready = READY_BOTH;
        continue;
      }
      ready = poller.wait(IDLE_POLL_MS);
      // After every wait, not only a timeout: a branch first taken at the first idle timeout after busy traffic
      // would throw away this loop's optimized code (and what it inlined) for the sparse traffic that follows.
      this.d.peers.refresh();
    }
  }
}
