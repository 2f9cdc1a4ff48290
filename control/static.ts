/**
 * `vxtun static`: the forwarder with a fixed peer list from a config file. SIGHUP re-reads the file and swaps
 * the peers without touching the TUN; SIGTERM/SIGINT stop the workers and remove the device.
 */
import { availableParallelism } from 'node:os';
import { Dataplane } from '../dataplane/dataplane.js';
import { ENCAP_OVERHEAD_IPV4, ENCAP_OVERHEAD_IPV6 } from '../dataplane/packet/vxlan.js';
import { parseMacBytes, parseCidr, formatIpBytes } from '../dataplane/routes.js';
import { VxtunError } from '../dataplane/errors.js';
import { loadStaticConfig, type StaticConfig } from './static-config.js';
import { persistentVtepMac, DEFAULT_STATE_DIR } from './state.js';
import { findUnderlay } from './underlay.js';
import type { Logger } from './log.js';

export interface StaticFlags { config: string; stateDir?: string; workers?: number; statsInterval: number }

export async function runStatic(flags: StaticFlags, log: Logger): Promise<void> {
  const cfg = loadStaticConfig(flags.config);
  const stateDir = flags.stateDir ?? cfg.stateDir ?? DEFAULT_STATE_DIR;
  const vtep = cfg.vtepMac ? { mac: cfg.vtepMac.toLowerCase(), created: false } : persistentVtepMac(stateDir, cfg.tunName);
  if (vtep.created) log.info({ vtepMac: vtep.mac, stateDir }, 'created a new VTEP MAC');
  const family = cfg.publicIp.includes(':') ? 6 : 4;
  const underlay = findUnderlay(cfg.publicIp);
  const underlayMtu = cfg.underlayMtu ?? (cfg.mtu ? cfg.mtu + (family === 4 ? ENCAP_OVERHEAD_IPV4 : ENCAP_OVERHEAD_IPV6) : underlay.mtu ?? 1500);
  if (!cfg.underlayMtu && !cfg.mtu && underlay.mtu === null) {
    log.warn({ publicIp: cfg.publicIp }, 'no local interface holds publicIp; assuming an underlay MTU of 1500 (set underlayMtu to silence this)');
  }
  const network = cfg.network ?? (cfg.subnet ? defaultNetwork(cfg.subnet) : undefined);
  if (!cfg.network && network) log.info({ network }, 'network not set; routing the /16 that holds our subnet through the TUN');
  const dp = await Dataplane.start({
    vni: cfg.vni, port: cfg.port, publicIp: cfg.publicIp, bindAddress: cfg.bindAddress,
    subnet: cfg.subnet, ipv6Subnet: cfg.ipv6Subnet, network, ipv6Network: cfg.ipv6Network,
    vtepMac: parseMacBytes(vtep.mac, 'vtepMac'), tunName: cfg.tunName,
    workers: flags.workers ?? cfg.workers ?? Math.max(1, availableParallelism()),
    underlayMtu, offloads: cfg.offloads, sourcePorts: cfg.sourcePorts, udpBufferBytes: cfg.udpBufferBytes, logger: log,
  });
  dp.setPeers(cfg.peers);
  log.info({ vtepMac: vtep.mac, publicIp: cfg.publicIp, port: cfg.port, vni: cfg.vni, subnet: cfg.subnet, ipv6Subnet: cfg.ipv6Subnet }, 'vxtun static running');
  await untilSignal(dp, flags, log);
}

function defaultNetwork(subnet: string): string {
  const c = parseCidr(subnet, 'subnet');
  const len = Math.min(16, c.prefixLen);
  const a = c.addr;
  const masked = Uint8Array.from([a[0], len > 8 ? a[1] : 0, 0, 0]);
  if (len < 8) masked[0] = a[0] & ((0xff << (8 - len)) & 0xff);
  return `${formatIpBytes(masked, 4)}/${len}`;
}

function untilSignal(dp: Dataplane, flags: StaticFlags, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = flags.statsInterval > 0
      ? setInterval(() => log.info({ stats: compact(dp) }, 'stats'), flags.statsInterval * 1000)
      : null;
    const finish = (err?: unknown) => {
      if (timer) clearInterval(timer);
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload);
      log.info({ stats: compact(dp) }, 'final stats');
      dp.stop().then(() => (err ? reject(err) : resolve()), reject);
    };
    const onStop = (sig: NodeJS.Signals) => { log.info({ signal: sig }, 'stopping'); finish(); };
    const onReload = () => {
      try {
        const next: StaticConfig = loadStaticConfig(flags.config);
        dp.setPeers(next.peers);
        log.info({ peers: next.peers.length }, 'config reloaded: peers replaced');
      } catch (err) {
        log.error({ err: (err as Error).message, code: (err as VxtunError).code }, 'config reload failed; keeping the old peers');
      }
    };
    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload);
    dp.once('fatal', (err) => finish(err));
  });
}

function compact(dp: Dataplane) {
  const s = dp.stats();
  const drops = Object.fromEntries(Object.entries(s.drops).filter(([, v]) => v > 0));
  return { ...s.counters, drops };
}
