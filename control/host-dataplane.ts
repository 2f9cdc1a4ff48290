/**
 * Starting and running the forwarder for this host, shared by `vxtun static` and `vxtun agent`: the underlay MTU
 * taken from the interface that holds our public IP, the dataplane's defaults, and the life until a signal
 * (SIGTERM/SIGINT stop, SIGHUP reloads, counters logged every N seconds and once at exit).
 */
import { availableParallelism } from 'node:os';
import { Dataplane, type DataplaneOptions } from '../dataplane/dataplane.js';
import { ENCAP_OVERHEAD_IPV4, ENCAP_OVERHEAD_IPV6 } from '../dataplane/packet/vxlan.js';
import { parseMacBytes } from '../dataplane/address.js';
import { findUnderlay } from './underlay.js';
import type { Logger } from './log.js';

/** The dataplane's own options, with its defaults optional and the VTEP MAC as text. */
export type HostDataplaneOptions = Pick<DataplaneOptions, 'vni' | 'port' | 'publicIp' | 'tunName'> &
  Partial<
    Pick<
      DataplaneOptions,
      | 'bindAddress'
      | 'subnet'
      | 'ipv6Subnet'
      | 'network'
      | 'ipv6Network'
      | 'workers'
      | 'underlayMtu'
      | 'offloads'
      | 'tunnelGso'
      | 'sourcePorts'
      | 'udpBufferBytes'
    >
  > & {
    vtepMac: string;
    /** Overlay (TUN) MTU; the underlay MTU is derived from it. */
    mtu?: number;
  };

export const DEFAULT_SOURCE_PORTS = 4;
export const DEFAULT_UDP_BUFFER_BYTES = 7 << 20;

export async function startHostDataplane(o: HostDataplaneOptions, log: Logger): Promise<Dataplane> {
  const family = o.publicIp.includes(':') ? 6 : 4;
  const underlay = findUnderlay(o.publicIp);
  const underlayMtu =
    o.underlayMtu ?? (o.mtu ? o.mtu + (family === 4 ? ENCAP_OVERHEAD_IPV4 : ENCAP_OVERHEAD_IPV6) : (underlay.mtu ?? 1500));
  if (!o.underlayMtu && !o.mtu && underlay.mtu === null) {
    log.warn({ publicIp: o.publicIp }, 'no local interface holds publicIp; assuming an underlay MTU of 1500 (set the MTU to silence this)');
  }
  return Dataplane.start({
    vni: o.vni,
    port: o.port,
    publicIp: o.publicIp,
    bindAddress: o.bindAddress,
    subnet: o.subnet,
    ipv6Subnet: o.ipv6Subnet,
    network: o.network,
    ipv6Network: o.ipv6Network,
    vtepMac: parseMacBytes(o.vtepMac, 'vtepMac'),
    tunName: o.tunName,
    workers: o.workers ?? Math.max(1, availableParallelism()),
    underlayMtu,
    offloads: o.offloads ?? true,
    tunnelGso: o.tunnelGso ?? true,
    sourcePorts: o.sourcePorts ?? DEFAULT_SOURCE_PORTS,
    udpBufferBytes: o.udpBufferBytes ?? DEFAULT_UDP_BUFFER_BYTES,
    logger: log,
  });
}

export interface RunOptions {
  /** Log counters every N seconds (0 = never). */
  statsInterval: number;
  onReload?: () => void;
  /** Runs once before the dataplane stops, whatever the reason. */
  beforeStop?: () => void;
  /** Rejects when something outside the dataplane makes going on pointless (e.g. a lost lease). */
  fatal?: Promise<never>;
}

/** Resolves after a clean stop on SIGTERM/SIGINT; rejects after stopping on a dataplane or `fatal` error. */
export function runUntilStopped(dp: Dataplane, o: RunOptions, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = o.statsInterval > 0 ? setInterval(() => log.info({ stats: compactStats(dp) }, 'stats'), o.statsInterval * 1000) : null;
    let finished = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      if (timer) clearInterval(timer);
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload);
      o.beforeStop?.();
      log.info({ stats: compactStats(dp) }, 'final stats');
      dp.stop().then(() => (err ? reject(err) : resolve()), reject);
    };
    const onStop = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping');
      finish();
    };
    const onReload = () => o.onReload?.();
    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload);
    dp.once('fatal', (err) => finish(err));
    o.fatal?.catch((err) => finish(err));
  });
}

export function compactStats(dp: Dataplane) {
  const s = dp.stats();
  const drops = Object.fromEntries(Object.entries(s.drops).filter(([, v]) => v > 0));
  const { socketOverflows: _inKernelDrops, ...counters } = s.counters;
  // Per worker, so an operator sees whether flows spread over the queues.
  const perWorker = s.perWorker.map((w) => ({ txPackets: w.counters.txPackets, rxPackets: w.counters.rxPackets }));
  // The kernel's drops beside vxtun's own: together they account for every packet lost on the way.
  return { ...counters, drops, kernelDrops: s.kernelDrops, perWorker };
}
