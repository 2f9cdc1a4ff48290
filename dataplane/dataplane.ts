/**
 * The public face of the packet path: start() opens the TUN (one queue per worker), sets up the link, starts
 * the queue workers and waits until each has its sockets; setPeers() swaps the shared peer table; stats() sums
 * the shared counters; stop() wakes every worker and waits for it. A worker that throws is restarted on the
 * same TUN queue (bounded: a worker that keeps failing stops the dataplane with VXTUN_ERR_WORKER).
 */
import { EventEmitter } from 'node:events';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { Worker } from 'node:worker_threads';
import { VxtunError } from './errors.js';
import { overlayMtu, type LocalConfig } from './local.js';
import { VNI_MAX } from './packet/vxlan.js';
import { IPV6_MIN_MTU } from './packet/ipv6.js';
import { PeerTable, checkPeerSubnets, type Peer } from './routes.js';
import { cidrWithin, parseCidr, parseIpBytes } from './address.js';
import {
  createPeerStatsBuffer,
  createStatsBuffer,
  readPeerSlot,
  readStats,
  P_LAST_RX,
  P_RX_BYTES,
  P_RX_PACKETS,
  P_TX_BYTES,
  P_TX_PACKETS,
  type DataplaneStats,
} from './stats.js';
import { openTun, openTunnelTap, configureLink, linkState, linkTxDropped, type LinkConfig, type OpenedTunnelTap } from './sys/tun.js';
import { createWakeFd, signalWake, closeFd } from './sys/poll.js';
import type { TunQueue } from './sys/types.js';
import type { WorkerInit, WorkerMessage } from './worker.js';
import { RestartBudget } from './restart.js';
import { claimOwnership, type Ownership } from './ownership.js';
import { errnoName } from './sys/syserror.js';

export type { Peer } from './routes.js';
export type { DataplaneStats } from './stats.js';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** One peer as configured, with its counters (inner packets and bytes) since it was added. */
export interface PeerStats extends Peer {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  /** ISO time of the last packet delivered from this peer; null when none yet. */
  lastRxAt: string | null;
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
  /**
   * Send TSO super-packets whole through a TAP with UDP-tunnel GSO, the kernel segmenting them on the underlay
   * (default true; used only where it works: Linux 6.17+, IPv4 underlay, offloads on, our address local).
   */
  tunnelGso?: boolean;
  logger: Logger;
}

/** Queue worker threads at most (each owns a TUN queue and its sockets). */
export const MAX_WORKERS = 64;

const READY_TIMEOUT_MS = 10_000;
/** How often the main thread looks at the TUN link (deleted? set down or up by someone?). */
const LINK_WATCH_MS = 1_000;
const STOP_TIMEOUT_MS = 3_000;

interface Slot {
  init: WorkerInit;
  worker: Worker | null;
  restarts: RestartBudget;
}

export class Dataplane extends EventEmitter {
  readonly tunName: string;
  readonly overlayMtu: number;
  readonly cfg: LocalConfig;
  private readonly opts: DataplaneOptions;
  private readonly table: PeerTable;
  private readonly statsSab: SharedArrayBuffer;
  private readonly peerStatsSab: SharedArrayBuffer;
  /** The peers as last set, each with its counter slot, and what a slot held when it was given to its peer. */
  private peerSlots: { peer: Peer; slot: number }[] = [];
  private readonly slotBase = new Map<number, number[]>();
  /** Worker restarts since start. */
  private restartCount = 0;
  private readonly stopSab: SharedArrayBuffer;
  private readonly queues: TunQueue[];
  private readonly ownership: Ownership;
  private readonly slots: Slot[] = [];
  private stopping = false;
  private linkWatch: NodeJS.Timeout | null = null;
  private linkUp = true;
  /** The TUN's transmit drops when we started (a reused device keeps its counters), and the last value read. */
  private tunTxBase = 0;
  private tunTxLast = 0;
  /** The tunnel-GSO TAP and its switch, when that route is on (see setupTunnel). */
  private tunnel: { tap: OpenedTunnelTap; source: Uint8Array; off: Int32Array; writes: number; forwarded: number } | null = null;
  /** Why the tunnel route is not used (null while it is). */
  private tunnelReason: string | null = 'not set up';
  /** What each worker reported when it became ready (offloads, source ports). */
  readonly workerInfo: Extract<WorkerMessage, { type: 'ready' }>[] = [];

  private constructor(opts: DataplaneOptions, cfg: LocalConfig, tunName: string, queues: TunQueue[], ownership: Ownership) {
    super();
    this.opts = opts;
    this.ownership = ownership;
    this.cfg = cfg;
    this.tunName = tunName;
    this.overlayMtu = cfg.overlayMtu;
    this.queues = queues;
    this.table = new PeerTable();
    this.statsSab = createStatsBuffer(opts.workers);
    this.peerStatsSab = createPeerStatsBuffer(opts.workers, this.table.maxPeers);
    // [0]: stop all; [1 + i]: make worker i fail (failWorker).
    this.stopSab = new SharedArrayBuffer(4 * (1 + opts.workers));
  }

  static async start(opts: DataplaneOptions): Promise<Dataplane> {
    const cfg = localConfig(opts);
    const ownership = claimOwnership({ tunName: opts.tunName, family: cfg.family, port: cfg.port });
    let opened: ReturnType<typeof openTun>;
    try {
      opened = await openOwnTun(opts);
    } catch (err) {
      ownership.release();
      throw err;
    }
    const { name, queues } = opened;
    const dp = new Dataplane(opts, cfg, name, queues, ownership);
    try {
      configureLink(name, dp.linkConfig());
      dp.setupTunnel();
      // The first worker picks the outer source ports; the others bind the same ones (see WorkerInit).
      await dp.spawn(0, queues[0]);
      const ports = dp.workerInfo[0].localPorts;
      dp.slots[0].init.localPorts = ports;
      await Promise.all(queues.slice(1).map((q, i) => dp.spawn(i + 1, q, ports)));
    } catch (err) {
      await dp.stop();
      throw err;
    }
    dp.tunTxBase = linkTxDropped(name) ?? 0;
    dp.tunTxLast = dp.tunTxBase;
    // A ref'd timer: while the dataplane runs, the process stays alive even with every worker dead and waiting.
    dp.linkWatch = setInterval(() => dp.watchLink(), LINK_WATCH_MS);
    opts.logger.info(
      {
        tun: name,
        workers: opts.workers,
        mtu: cfg.overlayMtu,
        vnetHdr: queues[0]?.vnetHdr,
        offloadFlags: queues[0]?.offloadFlags,
        tunnelGso: dp.tunnel ? dp.tunnel.tap.name : `off: ${dp.tunnelReason}`,
        workerInfo: dp.workerInfo,
      },
      'dataplane started',
    );
    return dp;
  }

  /**
   * The tunnel route: a TAP `<tun>-gso` with UDP-tunnel GSO (Linux 6.17+). A super-packet written to it as one VXLAN
   * frame, outer headers included, is forwarded by the kernel to the underlay, where veth or the NIC segments it:
   * no split and no checksums in user space (native-notes/super-packets.md). The TAP forwards, accepts our own
   * address as source and has no IPv6 (it never carries any). Off, with the reason kept, where it cannot work.
   */
  private setupTunnel(): void {
    const { opts, cfg } = this;
    const why = (reason: string) => {
      this.tunnelReason = reason;
    };
    if (opts.tunnelGso === false) return why('switched off (tunnelGso: false)');
    if (!opts.offloads) return why('needs the TUN offloads (offloads: true)');
    if (cfg.family !== 4) return why('IPv4 underlay only');
    const local = localSource(opts);
    if (!local) return why(`${opts.publicIp} is not an address of this host (set bindAddress to the underlay address)`);
    const { source, device } = local;
    // Segmented in software, a 64 KB tunnel super-packet costs the kernel ~50 us, more than splitting it here
    // (native-notes/super-packets.md §3): only where the device segments UDP tunnels with their checksum itself.
    const missing = missingTunnelOffload(device);
    if (missing) return why(missing);
    if (readSysctl('net/ipv4/conf/all/rp_filter') === '1')
      return why('net.ipv4.conf.all.rp_filter is 1 (strict): the kernel would drop our frames as spoofed');
    const opened = openTunnelTap(`${this.tunName.slice(0, 11)}-gso`, opts.workers);
    if ('reason' in opened) return why(opened.reason);
    try {
      for (const [key, value] of [
        [`net/ipv4/conf/${opened.name}/forwarding`, '1'],
        [`net/ipv4/conf/${opened.name}/accept_local`, '1'],
        [`net/ipv4/conf/${opened.name}/rp_filter`, '0'],
      ])
        writeFileSync(`/proc/sys/${key}`, value);
      try {
        writeFileSync(`/proc/sys/net/ipv6/conf/${opened.name}/disable_ipv6`, '1');
      } catch {
        // No IPv6 in this kernel: nothing to switch off.
      }
    } catch (err) {
      for (const q of opened.queues) q.close();
      return why(`configuring ${opened.name}: ${(err as Error).message}`);
    }
    this.tunnel = { tap: opened, source, off: new Int32Array(new SharedArrayBuffer(4)), writes: 0, forwarded: ipForwarded() ?? 0 };
    this.tunnelReason = null;
  }

  /**
   * Each second, once 8 frames were written since the last verdict: the kernel must have forwarded them (see
   * ipForwarded: a super-packet counts once). A firewall that drops forwarded packets would blackhole them, so when fewer than half of the frames
   * written were forwarded, the workers go back to UDP segments for good.
   */
  private checkTunnel(): void {
    const t = this.tunnel;
    if (!t || Atomics.load(t.off, 0) !== 0) return;
    const writes = readStats(this.statsSab, this.opts.workers, 0).counters.tunnelWrites;
    const forwarded = ipForwarded();
    if (forwarded === undefined) return;
    const dw = writes - t.writes;
    const df = forwarded - t.forwarded;
    // Judged over at least 8 frames: a blackholed TCP flow backs off and writes few super-packets a second.
    if (dw < 8) return;
    t.writes = writes;
    t.forwarded = forwarded;
    if (df >= dw / 2) return;
    Atomics.store(t.off, 0, 1);
    this.tunnelReason = `the kernel forwarded ${df} of ${dw} frames written to ${t.tap.name} (a firewall dropping forwarded UDP?)`;
    this.opts.logger.warn(
      { tap: t.tap.name, written: dw, forwarded: df },
      'tunnel GSO route: the kernel did not forward the super-packets written to the TAP; sending them as UDP segments from now on',
    );
  }

  /** MTU, gateway addresses and the overlay routes of the TUN. */
  private linkConfig(): LinkConfig {
    const { cfg, opts } = this;
    return {
      mtu: cfg.overlayMtu,
      addresses: [
        ...(cfg.gateway4 ? [{ family: 4 as const, addr: cfg.gateway4, prefixLen: 32 }] : []),
        ...(cfg.gateway6 ? [{ family: 6 as const, addr: cfg.gateway6, prefixLen: 128 }] : []),
      ],
      routes: [opts.network, opts.ipv6Network]
        .filter((n): n is string => !!n)
        .map((n) => {
          const c = parseCidr(n, 'network');
          return { family: c.family, dst: c.addr, prefixLen: c.prefixLen };
        }),
    };
  }

  /**
   * A deleted TUN ends the dataplane (nothing can forward without it; the workers would only fail and restart).
   * Set down, the kernel drops the overlay routes (and IPv6 addresses); set up again, they are put back.
   * Returns false when the device is gone.
   */
  private watchLink(): boolean {
    if (this.stopping) return true;
    this.checkTunnel();
    let state: ReturnType<typeof linkState>;
    try {
      state = linkState(this.tunName);
    } catch (err) {
      this.opts.logger.warn({ tun: this.tunName, err: (err as Error).message }, 'could not read the TUN link state');
      return true;
    }
    const log = this.opts.logger;
    if (state === 'gone') {
      log.error({ tun: this.tunName }, 'TUN device was deleted; stopping the dataplane');
      this.emit(
        'fatal',
        new VxtunError(
          'VXTUN_ERR_LINK',
          `TUN device ${this.tunName} was deleted while vxtun was running (ip link del?); start vxtun again to recreate it`,
        ),
      );
      return false;
    }
    if (state === 'down' && this.linkUp) {
      this.linkUp = false;
      log.warn({ tun: this.tunName }, 'TUN link is down: the kernel removed the overlay routes; vxtun puts them back when the link is up');
    } else if (state === 'up' && !this.linkUp) {
      try {
        configureLink(this.tunName, this.linkConfig());
        this.linkUp = true;
        log.info(
          { tun: this.tunName, routes: [this.opts.network, this.opts.ipv6Network].filter(Boolean) },
          'TUN link is up again: overlay routes restored',
        );
      } catch (err) {
        log.error({ tun: this.tunName, err: (err as Error).message }, 'TUN link is up again but restoring its routes failed; retrying');
      }
    }
    return true;
  }

  setPeers(peers: readonly Peer[]): void {
    checkPeerSubnets(this.opts, peers);
    const { slots, fresh } = this.table.set(peers);
    for (const slot of fresh) this.slotBase.set(slot, this.readSlot(slot));
    this.peerSlots = peers.map((peer, i) => ({ peer, slot: slots[i] }));
    this.opts.logger.info({ peers: peers.map((p) => `${p.subnet ?? p.ipv6Subnet}@${p.publicIp}`) }, 'peers set');
  }

  /** Each peer of the current list with its packets and bytes each way and the time of its last packet to us. */
  peerStats(): PeerStats[] {
    return this.peerSlots.map(({ peer, slot }) => {
      const now = this.readSlot(slot);
      const base = this.slotBase.get(slot) ?? [0, 0, 0, 0, 0];
      const lastRx = now[P_LAST_RX] > base[P_LAST_RX] ? new Date(now[P_LAST_RX]).toISOString() : null;
      return {
        ...peer,
        txPackets: now[P_TX_PACKETS] - base[P_TX_PACKETS],
        txBytes: now[P_TX_BYTES] - base[P_TX_BYTES],
        rxPackets: now[P_RX_PACKETS] - base[P_RX_PACKETS],
        rxBytes: now[P_RX_BYTES] - base[P_RX_BYTES],
        lastRxAt: lastRx,
      };
    });
  }

  /**
   * Offloads in use: the TUN's virtio header (TSO/checksum offload), UDP GSO on send, UDP GRO on receive, and the
   * tunnel TAP super-packets leave through (null when off; `tunnelGsoOff` says why).
   */
  get offloads(): { vnetHdr: boolean; gso: boolean; gro: boolean; tunnelGso: string | null; tunnelGsoOff: string | null } {
    const info = this.workerInfo;
    const on = this.tunnel !== null && Atomics.load(this.tunnel.off, 0) === 0;
    return {
      vnetHdr: this.queues[0]?.vnetHdr ?? false,
      gso: info.length > 0 && info.every((w) => w.gso),
      gro: info.length > 0 && info.every((w) => w.gro),
      tunnelGso: on ? this.tunnel!.tap.name : null,
      tunnelGsoOff: on ? null : this.tunnelReason,
    };
  }

  /** Worker threads restarted after a failure since the dataplane started. */
  get workerRestarts(): number {
    return this.restartCount;
  }

  private readSlot(slot: number): number[] {
    return readPeerSlot(this.peerStatsSab, this.opts.workers, this.table.maxPeers, slot);
  }

  stats(): DataplaneStats {
    // Once the device is gone its counters are too: keep the last value read.
    this.tunTxLast = linkTxDropped(this.tunName) ?? this.tunTxLast;
    return readStats(this.statsSab, this.opts.workers, this.tunTxLast - this.tunTxBase);
  }

  /**
   * Makes queue worker `index` throw out of its loop, as a bug would: the restart path then runs for real. For the
   * fault tests (`vxtun static` calls it on SIGUSR2 when VXTUN_TEST_HOOKS=1); never needed in operation.
   */
  failWorker(index: number): void {
    const slot = this.slots[index];
    if (!slot?.worker) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', `no running worker ${index}`);
    Atomics.store(new Int32Array(this.stopSab), 1 + index, 1);
    signalWake(slot.init.wakeFd);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.linkWatch) clearInterval(this.linkWatch);
    Atomics.store(new Int32Array(this.stopSab), 0, 1);
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (!w) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        signalWake(s.init.wakeFd);
        const timer = setTimeout(() => void w.terminate(), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    for (const s of this.slots) closeFd(s.init.wakeFd);
    for (const q of this.queues) q.close();
    for (const q of this.tunnel?.tap.queues ?? []) q.close();
    this.ownership.release();
    this.opts.logger.info({ tun: this.tunName }, 'dataplane stopped');
  }

  private spawn(index: number, q: TunQueue, localPorts: number[] = []): Promise<void> {
    const o = this.opts;
    const init: WorkerInit = {
      index,
      cfg: this.cfg,
      tunFd: q.fd,
      vnetHdr: q.vnetHdr,
      offloadFlags: q.offloadFlags,
      bindAddress: o.bindAddress ?? (this.cfg.family === 4 ? '0.0.0.0' : '::'),
      sourcePorts: o.sourcePorts,
      localPorts,
      udpBufferBytes: o.udpBufferBytes,
      gro: o.offloads,
      peerSab: this.table.sab,
      statsSab: this.statsSab,
      peerStatsSab: this.peerStatsSab,
      maxPeers: this.table.maxPeers,
      stopSab: this.stopSab,
      wakeFd: createWakeFd(),
      ...(this.tunnel && {
        tunnel: {
          fd: this.tunnel.tap.queues[index].fd,
          tapMac: this.tunnel.tap.mac,
          source: this.tunnel.source,
          offSab: this.tunnel.off.buffer as SharedArrayBuffer,
        },
      }),
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
        if (this.workerInfo[m.index] !== undefined)
          this.opts.logger.info({ worker: m.index, restarts: slot.restarts.recent }, 'worker restarted');
        this.workerInfo[m.index] = m;
        resolve();
      });
      w.on('error', (err) => {
        clearTimeout(timer);
        if (!ready) {
          reject(
            err instanceof VxtunError
              ? err
              : new VxtunError('VXTUN_ERR_WORKER', `worker ${slot.init.index} failed to start: ${err.message}`, { cause: err }),
          );
          return;
        }
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
    if (!this.watchLink()) return;
    const delay = slot.restarts.next(Date.now());
    if (delay < 0) {
      const err = new VxtunError(
        'VXTUN_ERR_WORKER',
        `worker ${slot.init.index} keeps failing (${slot.restarts.recent} restarts within a minute); see the log for its errors`,
      );
      this.opts.logger.error({ worker: slot.init.index, code }, 'worker keeps failing; stopping the dataplane');
      this.emit('fatal', err);
      return;
    }
    this.restartCount++;
    this.opts.logger.warn(
      { worker: slot.init.index, code, restarts: slot.restarts.recent, delayMs: delay },
      'worker exited; restarting it',
    );
    setTimeout(() => {
      if (this.stopping) return;
      Atomics.store(new Int32Array(this.stopSab), 1 + slot.init.index, 0);
      this.launch(slot).catch((err) => this.opts.logger.error({ worker: slot.init.index, err: String(err) }, 'worker restart failed'));
    }, delay);
  }
}

/** How long a start waits for a TUN device of our name, left by a process that just died, to be removed. */
const STALE_TUN_WAIT_MS = 2_000;

/**
 * Opens the TUN once this process owns the name (claimOwnership): it creates the device (IFF_TUN_EXCL). A device
 * that exists all the same was left behind, by a crashed vxtun whose device the kernel is still removing, or made
 * persistent by another tool: wait briefly for it to go, then attach to it and say so.
 */
async function openOwnTun(opts: DataplaneOptions): Promise<ReturnType<typeof openTun>> {
  const tun = { name: opts.tunName, multiQueue: true, vnetHdr: opts.offloads, queues: opts.workers };
  const deadline = Date.now() + STALE_TUN_WAIT_MS;
  for (;;) {
    try {
      return openTun({ ...tun, exclusive: true });
    } catch (err) {
      if (!(err instanceof VxtunError) || err.errno === undefined || errnoName(err.errno) !== 'EBUSY') throw err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  opts.logger.warn(
    { tun: opts.tunName, waitedMs: STALE_TUN_WAIT_MS },
    'TUN device exists though no vxtun owns it (left by an earlier run or made persistent); reusing it',
  );
  return openTun(tun);
}

function localConfig(o: DataplaneOptions): LocalConfig {
  const pub = parseIpBytes(o.publicIp);
  if (!pub) throw new VxtunError('VXTUN_ERR_CONFIG', `publicIp "${o.publicIp}" is not an IP address`);
  if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > VNI_MAX)
    throw new VxtunError('VXTUN_ERR_CONFIG', `vni ${o.vni} is not in 0..16777215`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    throw new VxtunError('VXTUN_ERR_CONFIG', `port ${o.port} is not in 1..65535`);
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > MAX_WORKERS)
    throw new VxtunError('VXTUN_ERR_CONFIG', `workers ${o.workers} is not in 1..${MAX_WORKERS}`);
  if (!o.subnet && !o.ipv6Subnet) throw new VxtunError('VXTUN_ERR_CONFIG', 'set subnet (IPv4) and/or ipv6Subnet');
  for (const [subnetField, networkField] of [
    ['subnet', 'network'],
    ['ipv6Subnet', 'ipv6Network'],
  ] as const) {
    const subnet = o[subnetField],
      network = o[networkField];
    if (!network) continue;
    const net = parseCidr(network, networkField);
    if (subnet && !cidrWithin(parseCidr(subnet, subnetField), net)) {
      throw new VxtunError(
        'VXTUN_ERR_CONFIG',
        `${subnetField}: ${subnet} is outside ${networkField} ${network}; the overlay network must hold this host's subnet`,
      );
    }
  }
  const family = pub.length === 4 ? 4 : 6;
  const mtu = overlayMtu(o.underlayMtu, family);
  if (mtu < IPV6_MIN_MTU && o.ipv6Subnet)
    throw new VxtunError('VXTUN_ERR_CONFIG', `underlay MTU ${o.underlayMtu} leaves ${mtu} for the overlay; IPv6 needs 1280`);
  if (mtu < 576) throw new VxtunError('VXTUN_ERR_CONFIG', `underlay MTU ${o.underlayMtu} leaves only ${mtu} bytes for the overlay`);
  return {
    vni: o.vni,
    port: o.port,
    family,
    vtepMac: o.vtepMac,
    overlayMtu: mtu,
    gateway4: o.subnet ? parseCidr(o.subnet, 'subnet').addr : null,
    gateway6: o.ipv6Subnet ? parseCidr(o.ipv6Subnet, 'ipv6Subnet').addr : null,
  };
}

/**
 * The outer source of the tunnel route and the interface holding it: bindAddress when it is one address, else
 * publicIp if this host holds it.
 */
function localSource(o: DataplaneOptions): { source: Uint8Array; device: string } | null {
  const wanted = o.bindAddress && o.bindAddress !== '0.0.0.0' ? o.bindAddress : o.publicIp;
  const bytes = parseIpBytes(wanted);
  if (bytes?.length !== 4) return null;
  for (const [device, list] of Object.entries(networkInterfaces())) {
    if (list?.some((a) => a.family === 'IPv4' && a.address === wanted)) return { source: bytes, device };
  }
  return null;
}

/** Why `device` would segment tunnel super-packets in software (from `ethtool -k`), or null when it does not. */
function missingTunnelOffload(device: string): string | null {
  let text: string;
  try {
    text = execFileSync('ethtool', ['-k', device], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return `could not read the offloads of ${device} (ethtool -k): is ethtool installed?`;
  }
  for (const feature of ['tx-udp_tnl-segmentation', 'tx-udp_tnl-csum-segmentation']) {
    const state = new RegExp(`^\\s*${feature}: (\\S+)`, 'm').exec(text)?.[1];
    if (state !== 'on')
      return `${device} has ${feature} ${state ?? 'unknown'}: the kernel would segment in software, which costs more than splitting`;
  }
  return null;
}

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Packets this network namespace forwarded and transmitted, from /proc/self/net/snmp: every IPv4 packet sent
 * (OutTransmits, Linux 6.3+, counted after the FORWARD hook) minus those this host made (OutRequests) and the extra
 * pieces of fragmented ones (FragCreates - FragOKs). ForwDatagrams is no use here: it counts before the FORWARD
 * hook, so it grows even when a firewall drops the packet. Undefined when unreadable.
 */
function ipForwarded(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/net/snmp', 'utf8');
  } catch {
    return undefined;
  }
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Ip:'));
  const keys = names?.split(/\s+/) ?? [];
  const vals = values?.split(/\s+/) ?? [];
  const field = (name: string) => {
    const i = keys.indexOf(name);
    return i > 0 ? Number(vals[i]) : Number.NaN;
  };
  const v = field('OutTransmits') - field('OutRequests') - field('FragCreates') + field('FragOKs');
  return Number.isFinite(v) ? v : undefined;
}
