/**
 * `vxtun static`: the forwarder with a fixed peer list from a config file. SIGHUP re-reads the file and swaps
 * the peers without touching the TUN; SIGTERM/SIGINT stop the workers and remove the device.
 */
import { checkPeerSubnets } from '../dataplane/routes.js';
import { formatIpBytes, parseCidr } from '../dataplane/address.js';
import { VxtunError } from '../dataplane/errors.js';
import { loadStaticConfig, type StaticConfig } from './static-config.js';
import { persistentVtepMac, DEFAULT_STATE_DIR } from './state.js';
import { runUntilStopped, startHostDataplane } from './host-dataplane.js';
import type { Logger } from './log.js';
import type { HttpEndpoint, RouteHandler } from './http-endpoint.js';
import { serveMetrics, serveStatus, startMetricsEndpoint } from './status.js';

export interface StaticFlags {
  config: string;
  stateDir?: string;
  workers?: number;
  statsInterval: number;
  metricsListen?: string;
}

export async function runStatic(flags: StaticFlags, log: Logger): Promise<void> {
  const cfg = loadStaticConfig(flags.config);
  checkPeerSubnets(cfg, cfg.peers); // before the TUN exists; setPeers checks again on every reload
  const stateDir = flags.stateDir ?? cfg.stateDir ?? DEFAULT_STATE_DIR;
  const vtep = cfg.vtepMac ? { mac: cfg.vtepMac.toLowerCase(), created: false } : persistentVtepMac(stateDir, cfg.tunName);
  if (vtep.created) log.info({ vtepMac: vtep.mac, stateDir }, 'created a new VTEP MAC');
  const network = cfg.network ?? (cfg.subnet ? defaultNetwork(cfg.subnet) : undefined);
  if (!cfg.network && network) log.info({ network }, 'network not set; routing the /16 that holds our subnet through the TUN');
  let ready = false;
  const readiness: RouteHandler = () => (ready ? { status: 200, body: 'forwarding\n' } : { status: 503, body: 'not forwarding\n' });
  const http = await startMetricsEndpoint(
    flags.metricsListen,
    { '/healthz': () => ({ status: 200, body: 'ok\n' }), '/readyz': readiness },
    log,
  );
  try {
    await runStaticDataplane(
      flags,
      cfg,
      vtep.mac,
      network,
      http,
      (r) => {
        ready = r;
      },
      log,
    );
  } finally {
    await http?.close();
  }
}

async function runStaticDataplane(
  flags: StaticFlags,
  cfg: StaticConfig,
  vtepMac: string,
  network: string | undefined,
  http: HttpEndpoint | undefined,
  setReady: (ready: boolean) => void,
  log: Logger,
): Promise<void> {
  const vtep = { mac: vtepMac };
  const dp = await startHostDataplane({ ...cfg, network, vtepMac: vtep.mac, workers: flags.workers ?? cfg.workers }, log);
  dp.setPeers(cfg.peers);
  const src = {
    kind: 'static' as const,
    tunName: dp.tunName,
    dp,
    publicIp: cfg.publicIp,
    vtepMac: vtep.mac,
    subnet: cfg.subnet,
    ipv6Subnet: cfg.ipv6Subnet,
  };
  serveMetrics(src, http);
  const host = await serveStatus(src, log).catch(async (err) => {
    await dp.stop();
    throw err;
  });
  setReady(true);
  // Test-only: SIGUSR2 makes queue worker 0 fail, so the fault suite can watch a real restart.
  const failHook = () => dp.failWorker(0);
  if (process.env.VXTUN_TEST_HOOKS === '1') process.on('SIGUSR2', failHook);
  log.info(
    { vtepMac: vtep.mac, publicIp: cfg.publicIp, port: cfg.port, vni: cfg.vni, subnet: cfg.subnet, ipv6Subnet: cfg.ipv6Subnet },
    'vxtun static running',
  );
  await runUntilStopped(
    dp,
    {
      statsInterval: flags.statsInterval,
      onReload: () => {
        try {
          const next: StaticConfig = loadStaticConfig(flags.config);
          dp.setPeers(next.peers);
          log.info({ peers: next.peers.length }, 'config reloaded: peers replaced');
        } catch (err) {
          log.error({ err: (err as Error).message, code: (err as VxtunError).code }, 'config reload failed; keeping the old peers');
        }
      },
      beforeStop: () => setReady(false),
    },
    log,
  ).finally(() => {
    process.off('SIGUSR2', failHook);
    return host.close();
  });
}

function defaultNetwork(subnet: string): string {
  const c = parseCidr(subnet, 'subnet');
  const len = Math.min(16, c.prefixLen);
  const a = c.addr;
  const masked = Uint8Array.from([a[0], len > 8 ? a[1] : 0, 0, 0]);
  if (len < 8) masked[0] = a[0] & ((0xff << (8 - len)) & 0xff);
  return `${formatIpBytes(masked, 4)}/${len}`;
}
