/**
 * The public face of the packet path: start() opens the TUN (one queue per worker), sets up the link, starts
 * the queue workers and waits until each has its sockets; setPeers() swaps the shared peer table; stats() sums
 * the shared counters; stop() wakes every worker and waits for it. A worker that throws is restarted on the
 * same TUN queue (bounded: a worker that keeps failing stops the dataplane with VXTUN_ERR_WORKER).
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { VxtunError } from './errors.js';
import { overlayMtu, type LocalConfig } from './local.js';
import { VNI_MAX } from './packet/vxlan.js';
import { IPV6_MIN_MTU } from './packet/ipv6.js';
import { PeerTable, checkPeerSubnets, cidrWithin, parseCidr, parseIpBytes, type Peer } from './routes.js';
import { createStatsBuffer, readStats, type DataplaneStats } from './stats.js';
import { openTun, configureLink } from './sys/tun.js';
import { createWakeFd, signalWake, closeFd } from './sys/poll.js';
import type { TunQueue } from './sys/types.js';
import type { WorkerInit, WorkerMessage } from './worker.js';
import { RestartBudget } from './restart.js';

export type { Peer } from './routes.js';
export type { DataplaneStats } from './stats.js';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DataplaneOptions {
  vni: number;
  port: number;
  publicIp: string;
  /** Address the UDP sockets bind to; default the wildcard of publicIp's family. */
  bindAddress?: string;
  subnet?: string;
  ipv6Subnet?: string;
  /** The whole overlay: one route for it through the TUN. */
  network?: string;
  ipv6Network?: string;
  vtepMac: Uint8Array;
  tunName: string;
  workers: number;
  /** Underlay MTU; the TUN gets this minus the encapsulation overhead. */
  underlayMtu: number;
  /** IFF_VNET_HDR with TSO/GRO offloads (default true); false = one packet per read, for old kernels. */
  offloads: boolean;
  /** UDP send sockets per worker, one per outer source port. */
  sourcePorts: number;
  udpBufferBytes: number;
  logger: Logger;
}

/** Queue worker threads at most (each owns a TUN queue and its sockets). */
export const MAX_WORKERS = 64;

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;

interface Slot { init: WorkerInit; worker: Worker | null; restarts: RestartBudget }

export class Dataplane extends EventEmitter {
  readonly tunName: string;
  readonly overlayMtu: number;
  readonly cfg: LocalConfig;
  private readonly opts: DataplaneOptions;
  private readonly table: PeerTable;
  private readonly statsSab: SharedArrayBuffer;
  private readonly stopSab: SharedArrayBuffer;
  private readonly queues: TunQueue[];
  private readonly slots: Slot[] = [];
  private stopping = false;
  /** What each worker reported when it became ready (offloads, source ports). */
  readonly workerInfo: Extract<WorkerMessage, { type: 'ready' }>[] = [];

  private constructor(opts: DataplaneOptions, cfg: LocalConfig, tunName: string, queues: TunQueue[]) {
    super();
    this.opts = opts;
    this.cfg = cfg;
    this.tunName = tunName;
    this.overlayMtu = cfg.overlayMtu;
    this.queues = queues;
    this.table = new PeerTable();
    this.statsSab = createStatsBuffer(opts.workers);
    this.stopSab = new SharedArrayBuffer(4);
  }

  static async start(opts: DataplaneOptions): Promise<Dataplane> {
    const cfg = localConfig(opts);
    const { name, queues } = openTun({ name: opts.tunName, multiQueue: true, vnetHdr: opts.offloads, queues: opts.workers });
    const dp = new Dataplane(opts, cfg, name, queues);
    try {
      configureLink(name, {
        mtu: cfg.overlayMtu,
        addresses: [
          ...(cfg.gateway4 ? [{ family: 4 as const, addr: cfg.gateway4, prefixLen: 32 }] : []),
          ...(cfg.gateway6 ? [{ family: 6 as const, addr: cfg.gateway6, prefixLen: 128 }] : []),
        ],
        routes: [opts.network, opts.ipv6Network].filter((n): n is string => !!n).map((n) => {
          const c = parseCidr(n, 'network');
          return { family: c.family, dst: c.addr, prefixLen: c.prefixLen };
        }),
      });
      // The first worker picks the outer source ports; the others bind the same ones (see WorkerInit).
      await dp.spawn(0, queues[0]);
      const ports = dp.workerInfo[0].localPorts;
      dp.slots[0].init.localPorts = ports;
      await Promise.all(queues.slice(1).map((q, i) => dp.spawn(i + 1, q, ports)));
    } catch (err) {
      await dp.stop();
      throw err;
    }
    opts.logger.info({ tun: name, workers: opts.workers, mtu: cfg.overlayMtu, vnetHdr: queues[0]?.vnetHdr, offloadFlags: queues[0]?.offloadFlags, workerInfo: dp.workerInfo }, 'dataplane started');
    return dp;
  }

  setPeers(peers: readonly Peer[]): void {
    checkPeerSubnets(this.opts, peers);
    this.table.set(peers);
    this.opts.logger.info({ peers: peers.map((p) => `${p.subnet ?? p.ipv6Subnet}@${p.publicIp}`) }, 'peers set');
  }

  stats(): DataplaneStats {
    return readStats(this.statsSab, this.opts.workers);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    Atomics.store(new Int32Array(this.stopSab), 0, 1);
    await Promise.all(this.slots.map(async (s) => {
      const w = s.worker;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      signalWake(s.init.wakeFd);
      const timer = setTimeout(() => void w.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }));
    for (const s of this.slots) closeFd(s.init.wakeFd);
    for (const q of this.queues) q.close();
    this.opts.logger.info({ tun: this.tunName }, 'dataplane stopped');
  }

  private spawn(index: number, q: TunQueue, localPorts: number[] = []): Promise<void> {
    const o = this.opts;
    const init: WorkerInit = {
      index, cfg: this.cfg, tunFd: q.fd, vnetHdr: q.vnetHdr, offloadFlags: q.offloadFlags,
      bindAddress: o.bindAddress ?? (this.cfg.family === 4 ? '0.0.0.0' : '::'),
      sourcePorts: o.sourcePorts, localPorts, udpBufferBytes: o.udpBufferBytes, gro: o.offloads,
      peerSab: this.table.sab, statsSab: this.statsSab, stopSab: this.stopSab, wakeFd: createWakeFd(),
    };
    const slot: Slot = { init, worker: null, restarts: new RestartBudget() };
    this.slots[index] = slot;
    return this.launch(slot);
  }

  private launch(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: slot.init });
      slot.worker = w;
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) reject(new VxtunError('VXTUN_ERR_WORKER', `worker ${slot.init.index} did not start within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      w.on('message', (m: WorkerMessage) => {
        if (m.type !== 'ready') return;
        ready = true;
        clearTimeout(timer);
        this.workerInfo[m.index] = m;
        resolve();
      });
      w.on('error', (err) => {
        clearTimeout(timer);
        if (!ready) { reject(err instanceof VxtunError ? err : new VxtunError('VXTUN_ERR_WORKER', `worker ${slot.init.index} failed to start: ${err.message}`, { cause: err })); return; }
        this.opts.logger.error({ worker: slot.init.index, err: String(err), stack: err.stack }, 'worker failed');
      });
      w.on('exit', (code) => {
        slot.worker = null;
        if (this.stopping || !ready) return;
        this.restart(slot, code);
      });
    });
  }

  private restart(slot: Slot, code: number): void {
    const delay = slot.restarts.next(Date.now());
    if (delay < 0) {
      const err = new VxtunError('VXTUN_ERR_WORKER', `worker ${slot.init.index} keeps failing (${slot.restarts.recent} restarts within a minute); see the log for its errors`);
      this.opts.logger.error({ worker: slot.init.index, code }, 'worker keeps failing; stopping the dataplane');
      this.emit('fatal', err);
      return;
    }
    this.opts.logger.warn({ worker: slot.init.index, code, restarts: slot.restarts.recent, delayMs: delay }, 'worker exited; restarting it');
    setTimeout(() => {
      if (this.stopping) return;
      this.launch(slot).catch((err) => this.opts.logger.error({ worker: slot.init.index, err: String(err) }, 'worker restart failed'));
    }, delay).unref();
  }
}

function localConfig(o: DataplaneOptions): LocalConfig {
  const pub = parseIpBytes(o.publicIp);
  if (!pub) throw new VxtunError('VXTUN_ERR_CONFIG', `publicIp "${o.publicIp}" is not an IP address`);
  if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > VNI_MAX) throw new VxtunError('VXTUN_ERR_CONFIG', `vni ${o.vni} is not in 0..16777215`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new VxtunError('VXTUN_ERR_CONFIG', `port ${o.port} is not in 1..65535`);
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > MAX_WORKERS) throw new VxtunError('VXTUN_ERR_CONFIG', `workers ${o.workers} is not in 1..${MAX_WORKERS}`);
  if (!o.subnet && !o.ipv6Subnet) throw new VxtunError('VXTUN_ERR_CONFIG', 'set subnet (IPv4) and/or ipv6Subnet');
  for (const [subnetField, networkField] of [['subnet', 'network'], ['ipv6Subnet', 'ipv6Network']] as const) {
    const subnet = o[subnetField], network = o[networkField];
    if (!network) continue;
    const net = parseCidr(network, networkField);
    if (subnet && !cidrWithin(parseCidr(subnet, subnetField), net)) {
      throw new VxtunError('VXTUN_ERR_CONFIG', `${subnetField}: ${subnet} is outside ${networkField} ${network}; the overlay network must hold this host's subnet`);
    }
  }
  const family = pub.length === 4 ? 4 : 6;
  const mtu = overlayMtu(o.underlayMtu, family);
  if (mtu < IPV6_MIN_MTU && o.ipv6Subnet) throw new VxtunError('VXTUN_ERR_CONFIG', `underlay MTU ${o.underlayMtu} leaves ${mtu} for the overlay; IPv6 needs 1280`);
  if (mtu < 576) throw new VxtunError('VXTUN_ERR_CONFIG', `underlay MTU ${o.underlayMtu} leaves only ${mtu} bytes for the overlay`);
  return {
    vni: o.vni, port: o.port, family, vtepMac: o.vtepMac, overlayMtu: mtu,
    gateway4: o.subnet ? parseCidr(o.subnet, 'subnet').addr : null,
    gateway6: o.ipv6Subnet ? parseCidr(o.ipv6Subnet, 'ipv6Subnet').addr : null,
  };
}
