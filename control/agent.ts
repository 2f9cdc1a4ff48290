/**
 * `vxtun agent`: Flannel's etcd mode with vxtun as the vxlan backend. Waits for the registry and `<prefix>/config`,
 * takes a subnet lease, starts the forwarder on it, writes subnet.env, then follows `<prefix>/subnets/` and hands
 * every other vxlan lease to the dataplane as a peer. The registry is never on the packet path: when it goes away
 * the dataplane keeps its last peer table, and when it answers again the agent lists again and applies the
 * difference. It exits only on SIGTERM/SIGINT, a lease conflict or a local failure. SIGTERM leaves the lease in
 * place, so a restart gets the same subnet back (by PublicIP).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { VxtunError, type ErrorCode } from '../dataplane/errors.js';
import type { Dataplane, Peer } from '../dataplane/dataplane.js';
import { EtcdClient, type EtcdClientOptions } from './etcd/index.js';
import { backoffDelay } from './backoff.js';
import { AgentState } from './agent-state.js';
import { startHttpEndpoint } from './http-endpoint.js';
import { serveMetrics, serveStatus, startMetricsEndpoint, type StatusSource } from './status.js';
import { DirectRoutes } from './direct-routes.js';
import { findExtInterface, type IfaceChoice } from './iface.js';
import { IpMasq } from './ip-masq.js';
import { describeConfig, parseNetworkConfig, vxlanBackend } from './subnet/config.js';
import { formatSubnet4, overlaps, sameSubnet, type Subnet4 } from './subnet/ip4.js';
import { decodeLeaseAttrs, vxlanLeaseAttrs, vxlanLeaseAttrsV6Only, vxlanPeerOf, vxlanV6PeerOf } from './subnet/lease.js';
import { LeaseManager } from './subnet/manager.js';
import { EtcdLeaseStore, type LeaseChange, type StoredLease } from './subnet/store.js';
import { readPreviousIpv6Subnet, readPreviousSubnet, writeSubnetEnv } from './subnet/subnet-env.js';
import { formatSubnet6, overlaps6, sameSubnet6, type Subnet6 } from './subnet/ip6.js';
import { persistentVtepMac } from './state.js';
import { runUntilStopped, startHostDataplane } from './host-dataplane.js';
import type { Logger } from './log.js';

export interface AgentOptions {
  etcd: EtcdClientOptions;
  prefix: string;
  /** Advertised address; default the chosen interface's IPv4 address. */
  publicIp?: string;
  /** flanneld's --iface/--iface-regex/--iface-can-reach. */
  iface?: Omit<IfaceChoice, 'publicIp' | 'family'>;
  /** flanneld's --ip-masq. */
  ipMasq?: boolean;
  /**
   * Advertised as PublicIPv6 (flanneld's --public-ipv6). In a dual-stack lease vxtun carries both families over
   * PublicIP; in an IPv6-only network it is the underlay (default: the interface's global IPv6 address).
   */
  publicIpv6?: string;
  subnetFile: string;
  stateDir: string;
  tunName: string;
  workers?: number;
  /** Super-packets whole through the tunnel TAP where the kernel allows it (default true). */
  tunnelGso?: boolean;
  leaseTtlSeconds: number;
  /** Renew this long before expiry (flanneld's --subnet-lease-renew-margin); default min(1 h, TTL/4). */
  renewMarginSeconds?: number;
  statsInterval: number;
  /** Give up waiting for the registry, the config and a lease at start after this long; default: wait forever. */
  waitTimeoutSeconds?: number;
  /** Serve /metrics, /healthz and /readyz on this [host:]port (default: off). */
  metricsListen?: string;
  /** Serve /healthz and /readyz here (port 0 = off). */
  healthz?: { host: string; port: number };
  /** How often to check that the registry still answers while running (default 5 s). */
  probeIntervalMs?: number;
}

const EXAMPLE_CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
/** Errors the registry (or what is in it) causes: waited out at start, not fatal. */
const WAITABLE = new Set<ErrorCode>([
  'VXTUN_ERR_CONFIG',
  'VXTUN_ERR_REGISTRY',
  'VXTUN_ERR_REGISTRY_UNAVAILABLE',
  'VXTUN_ERR_LEASE_NOT_FOUND',
  'VXTUN_ERR_COMPACTED',
]);

export async function runAgent(o: AgentOptions, log: Logger): Promise<void> {
  if (o.publicIp !== undefined && !isIPv4(o.publicIp))
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `--public-ip ${o.publicIp} is not an IPv4 address; give the address other hosts reach this one on`,
    );
  if (o.publicIpv6 !== undefined && !isIPv6(o.publicIpv6))
    throw new VxtunError('VXTUN_ERR_CONFIG', `--public-ipv6 ${o.publicIpv6} is not an IPv6 address`);
  if (o.renewMarginSeconds !== undefined && o.renewMarginSeconds >= o.leaseTtlSeconds) {
    throw new VxtunError(
      'VXTUN_ERR_CONFIG',
      `--subnet-lease-renew-margin (${o.renewMarginSeconds / 60} min) must be shorter than the lease TTL (${o.leaseTtlSeconds} s)`,
    );
  }
  const prefix = o.prefix.replace(/\/+$/, '');
  const state = new AgentState();
  const http = o.healthz && o.healthz.port > 0 ? await startHttpEndpoint({ ...o.healthz, routes: state.healthRoutes() }, log) : undefined;
  const metrics = await startMetricsEndpoint(o.metricsListen, state.healthRoutes(), log).catch(async (err) => {
    await http?.close();
    throw err;
  });
  const statusSrc: StatusSource = { kind: 'agent', tunName: o.tunName, publicIp: o.publicIp, agent: () => state.status };
  const socket = await serveStatus(statusSrc, log).catch(async (err) => {
    await http?.close();
    await metrics?.close();
    throw err;
  });
  const client = new EtcdClient(o.etcd);
  const probe = new EtcdClient({ ...o.etcd, timeoutMs: 2000, maxAttempts: 2 });
  // SIGTERM/SIGINT while still waiting at start: stop waiting and exit cleanly.
  const startAbort = new AbortController();
  const onEarlyStop = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping');
    startAbort.abort();
  };
  process.on('SIGTERM', onEarlyStop).on('SIGINT', onEarlyStop);
  const waiting = new StartWait(o.waitTimeoutSeconds, startAbort.signal, state, log);
  try {
    const configKey = `${prefix}/config`;
    const found = await waiting.until('the network config', async () => {
      const kv = await client.get(configKey);
      if (!kv)
        throw new VxtunError(
          'VXTUN_ERR_CONFIG',
          `no network config at ${configKey}; create it with etcdctl put ${configKey} '${EXAMPLE_CONFIG}'`,
        );
      const parsed = parseNetworkConfig(kv.value.toString('utf8'), configKey);
      return { config: parsed, backend: vxlanBackend(parsed, configKey) };
    });
    if (!found) return;
    const { config, backend } = found;
    log.info(
      { ...describeConfig(config), vni: backend.vni, port: backend.port, linkMtu: backend.mtu, directRouting: backend.directRouting },
      'network config',
    );
    for (const w of backend.warnings) log.warn({ config: configKey }, w);

    // flanneld's ipv6 stack: the interface, its address and the default route are IPv6 ones.
    const v6Only = !config.enableIPv4;
    const ext = await findExtInterface(
      v6Only ? { ...o.iface, publicIp: o.publicIpv6, family: 6 } : { ...o.iface, publicIp: o.publicIp },
    ).catch((err: Error) => {
      throw err instanceof VxtunError
        ? err
        : new VxtunError('VXTUN_ERR_CONFIG', `cannot list this host's interfaces (${err.message}); vxtun needs iproute2's \`ip\``, {
            cause: err,
          });
    });
    // An IPv6-only network runs over IPv6 as flanneld's flannel-v6 device does: PublicIPv6 is the underlay.
    const publicIp = (v6Only ? o.publicIpv6 : o.publicIp) ?? ext.address;
    log.info({ iface: ext.name, address: ext.address, mtu: ext.mtu, how: ext.how, publicIp }, 'tunnel interface');
    const vtep = persistentVtepMac(o.stateDir, o.tunName);
    if (vtep.created) log.info({ vtepMac: vtep.mac, stateDir: o.stateDir }, 'created a new VTEP MAC');
    let failAgent!: (err: VxtunError) => void;
    const fatal = new Promise<never>((_, reject) => {
      failAgent = reject;
    });
    fatal.catch(() => undefined);
    const store = new EtcdLeaseStore(client, prefix, { probe, probeIntervalMs: o.probeIntervalMs });
    const leases = new LeaseManager({
      store,
      config,
      attrs: v6Only
        ? vxlanLeaseAttrsV6Only(publicIp, backend.vni, vtep.mac)
        : vxlanLeaseAttrs(publicIp, backend.vni, vtep.mac, config.ipv6 !== null, o.publicIpv6 ?? null),
      ttlSeconds: o.leaseTtlSeconds,
      renewMarginSeconds: o.renewMarginSeconds,
      log,
      onLost: failAgent,
    });
    const [previous, previous6] = [readPreviousSubnet(o.subnetFile), readPreviousIpv6Subnet(o.subnetFile)];
    const acquired = await waiting.until('a subnet lease', () => leases.acquire(previous, previous6));
    if (!acquired) return;
    const { subnet, ipv6Subnet } = acquired;
    const v6 = config.ipv6 && ipv6Subnet ? { network: config.ipv6.network, subnet: ipv6Subnet } : undefined;
    const v4 = v6Only ? undefined : { network: config.network, subnet };
    const ownLabel = v4 ? formatSubnet4(subnet) : formatSubnet6(v6!.subnet);
    process.off('SIGTERM', onEarlyStop).off('SIGINT', onEarlyStop);

    const dp = await startHostDataplane(
      {
        vni: backend.vni,
        port: backend.port,
        publicIp,
        ...(v4 ? { subnet: formatSubnet4(v4.subnet), network: formatSubnet4(v4.network) } : {}),
        ...(v6 ? { ipv6Subnet: formatSubnet6(v6.subnet), ipv6Network: formatSubnet6(v6.network) } : {}),
        vtepMac: vtep.mac,
        tunName: o.tunName,
        workers: o.workers,
        tunnelGso: o.tunnelGso,
        underlayMtu: backend.mtu ?? ext.mtu,
      },
      log,
    );
    let follow: { close(): void } | undefined;
    const direct = backend.directRouting ? new DirectRoutes(log) : undefined;
    let masq: IpMasq | undefined;
    try {
      if (o.ipMasq) {
        masq = await IpMasq.start(
          o.tunName,
          {
            ...(v4 ? { v4: { network: formatSubnet4(v4.network), subnet: formatSubnet4(v4.subnet) } } : {}),
            ...(v6 ? { v6: { network: formatSubnet6(v6.network), subnet: formatSubnet6(v6.subnet) } } : {}),
          },
          log,
        );
      }
      writeSubnetEnv(o.subnetFile, {
        ...v4,
        mtu: dp.overlayMtu,
        ipMasq: o.ipMasq === true,
        ...(v6 ? { ipv6: v6 } : {}),
      });
      log.info({ file: o.subnetFile }, 'subnet.env written');
      const target = direct
        ? {
            setPeers: (peers: Peer[]) => {
              dp.setPeers(peers);
              void direct.apply(peers);
            },
          }
        : dp;
      follow = followRegistry(
        store,
        leases,
        new LeasePeers(subnet, backend.vni, target, log, publicIp, v6 !== undefined, v6Only ? v6!.subnet : undefined),
        state,
        log,
      );
      leases.startRenewal();
    } catch (err) {
      follow?.close();
      await direct?.clear();
      await masq?.stop();
      await dp.stop();
      throw err;
    }
    state.followLease(
      () =>
        leases.lease && {
          subnet: v4 ? formatSubnet4(leases.lease.subnet) : null,
          ipv6Subnet: leases.lease.ipv6Subnet ? formatSubnet6(leases.lease.ipv6Subnet) : null,
          expiresAt: new Date(leases.lease.expiresAt).toISOString(),
        },
    );
    state.update({ phase: 'running', waitingFor: null, ready: true });
    Object.assign(statusSrc, {
      dp,
      publicIp,
      vtepMac: vtep.mac,
      subnet: v4 ? formatSubnet4(subnet) : undefined,
      ipv6Subnet: ipv6Subnet ? formatSubnet6(ipv6Subnet) : undefined,
    });
    serveMetrics(statusSrc, metrics);
    log.info(
      {
        ...(v4 ? { subnet: formatSubnet4(subnet) } : {}),
        ...(ipv6Subnet ? { ipv6Subnet: formatSubnet6(ipv6Subnet) } : {}),
        publicIp,
        vtepMac: vtep.mac,
        tun: dp.tunName,
      },
      'vxtun agent running',
    );
    await runUntilStopped(
      dp,
      {
        statsInterval: o.statsInterval,
        fatal,
        beforeStop: () => {
          state.update({ phase: 'stopping', ready: false });
          follow?.close();
          leases.stop();
          if (!leases.released) log.info({ subnet: ownLabel }, 'lease kept in the registry for the next start');
        },
      },
      log,
    ).finally(async () => {
      await direct?.clear();
      await masq?.stop();
    });
  } finally {
    process.off('SIGTERM', onEarlyStop).off('SIGINT', onEarlyStop);
    client.close();
    probe.close();
    await http?.close();
    await metrics?.close();
    await socket.close();
  }
}

/** The start phase's waiting: each registry-caused failure is logged and retried with capped backoff and jitter. */
class StartWait {
  private readonly deadline: number | undefined;

  constructor(
    private readonly timeoutSeconds: number | undefined,
    private readonly signal: AbortSignal,
    private readonly state: AgentState,
    private readonly log: Logger,
  ) {
    this.deadline = timeoutSeconds === undefined ? undefined : Date.now() + timeoutSeconds * 1000;
  }

  /** The attempt's result, or undefined when SIGTERM/SIGINT arrived while waiting. */
  async until<T>(what: string, attempt: () => Promise<T>): Promise<T | undefined> {
    this.state.update({ phase: 'waiting', waitingFor: what });
    for (let n = 0; !this.signal.aborted; n++) {
      try {
        const r = await attempt();
        this.state.registryUp();
        return r;
      } catch (err) {
        if (!(err instanceof VxtunError) || !WAITABLE.has(err.code)) throw err;
        if (err.code === 'VXTUN_ERR_REGISTRY_UNAVAILABLE') this.state.registryDown(err.message);
        else this.state.registryUp();
        const delay = backoffDelay(n);
        if (this.deadline !== undefined && Date.now() + delay > this.deadline) {
          throw new VxtunError(err.code, `gave up waiting for ${what} after --wait-timeout ${this.timeoutSeconds}s: ${err.message}`, {
            cause: err,
          });
        }
        this.log.warn({ code: err.code, retryInMs: delay }, `waiting for ${what}: ${err.message}`);
        await sleep(delay, undefined, { signal: this.signal }).catch(() => undefined);
      }
    }
    return undefined;
  }
}

/**
 * Follows the other hosts' leases for as long as the agent runs. Outages only pause it: the dataplane keeps the
 * peers it has, and the first listing after the registry answers again is applied as a difference.
 */
function followRegistry(store: EtcdLeaseStore, leases: LeaseManager, peers: LeasePeers, state: AgentState, log: Logger): { close(): void } {
  let listed = false;
  return store.watch({
    snapshot: (ls) => {
      const outage = state.status.registry.unreachableSince;
      leases.observeSnapshot(ls);
      const diff = peers.snapshot(ls);
      state.registryUp();
      if (listed || outage !== null) {
        const summary = { at: new Date().toISOString(), peers: peers.size, ...diff };
        state.update({ resyncs: state.status.resyncs + 1, lastResync: summary });
        log.info(
          { ...summary, unreachableSince: outage },
          `resynced: ${peers.size} peers (+${diff.added} −${diff.removed})${diff.changed ? `, ${diff.changed} changed` : ''}`,
        );
      }
      listed = true;
      state.update({ peers: peers.size });
      leases.renewIfDue();
    },
    changes: (cs) => {
      for (const c of cs) leases.observe(c);
      peers.apply(cs);
      state.update({ peers: peers.size });
    },
    unreachable: (err) => {
      state.registryDown(err.message);
      log.warn(
        { err: err.message, peers: peers.size },
        `registry unreachable since ${state.status.registry.unreachableSince}; forwarding with the last peer table, retrying`,
      );
    },
  });
}

export class LeasePeers {
  private readonly peers = new Map<string, Peer>();
  private readonly skipped = new Map<string, string>();

  constructor(
    private readonly own: Subnet4,
    private readonly vni: number,
    private readonly dp: Pick<Dataplane, 'setPeers'>,
    private readonly log: Logger,
    private readonly ownPublicIp?: string,
    private readonly dualStack = false,
    /** Our IPv6 subnet in an IPv6-only network: leases are told apart, and routed, by their IPv6 subnet alone. */
    private readonly ownV6Only?: Subnet6,
  ) {}

  private keyOf(s: Subnet4, s6: Subnet6 | undefined): string {
    return this.ownV6Only ? (s6 ? formatSubnet6(s6) : `${formatSubnet4(s)} (no IPv6 subnet)`) : formatSubnet4(s);
  }

  get size(): number {
    return this.peers.size;
  }

  /** Replaces the table with a full listing; returns what that changed. */
  snapshot(leases: StoredLease[]): { added: number; removed: number; changed: number } {
    const seen = new Set(leases.map((l) => this.keyOf(l.subnet, l.ipv6Subnet)));
    const before = new Map(this.peers);
    let changed = false;
    for (const key of [...this.peers.keys()]) if (!seen.has(key)) changed = this.remove(key) || changed;
    for (const l of leases) changed = this.put(l) || changed;
    if (changed || this.peers.size === 0) this.publish();
    const diff = { added: 0, removed: 0, changed: 0 };
    for (const [key, p] of this.peers) {
      const old = before.get(key);
      if (!old) diff.added++;
      else if (!samePeer(old, p)) diff.changed++;
    }
    for (const key of before.keys()) if (!this.peers.has(key)) diff.removed++;
    return diff;
  }

  apply(changes: LeaseChange[]): void {
    let changed = false;
    for (const c of changes) changed = (c.type === 'put' ? this.put(c.lease) : this.remove(this.keyOf(c.subnet, c.ipv6Subnet))) || changed;
    if (changed) this.publish();
  }

  private put(l: StoredLease): boolean {
    if (this.ownV6Only) return this.putV6Only(l, this.ownV6Only);
    if (sameSubnet(l.subnet, this.own)) return false;
    const key = formatSubnet4(l.subnet);
    const attrs = decodeLeaseAttrs(l.value);
    const found = !attrs
      ? { skip: 'the value is not a lease' }
      : overlaps(l.subnet, this.own)
        ? { skip: `it overlaps our subnet ${formatSubnet4(this.own)}` }
        : attrs.publicIp === this.ownPublicIp
          ? { skip: 'it carries our own public IP (a host with the same --public-ip)' }
          : vxlanPeerOf(attrs, this.vni);
    if ('skip' in found) return this.skip(key, attrs?.publicIp, found.skip);
    this.skipped.delete(key);
    const peer: Peer = { publicIp: attrs!.publicIp, subnet: key, vtepMac: found.vtepMac };
    if (this.dualStack && l.ipv6Subnet) {
      peer.ipv6Subnet = formatSubnet6(l.ipv6Subnet);
      if (found.ipv6VtepMac && found.ipv6VtepMac !== found.vtepMac) peer.ipv6VtepMac = found.ipv6VtepMac;
    }
    return this.set(key, peer);
  }

  /** An IPv6-only network: the peer is the lease's PublicIPv6 and BackendV6Data, routed for its IPv6 subnet. */
  private putV6Only(l: StoredLease, own: Subnet6): boolean {
    if (sameSubnet6(l.ipv6Subnet, own)) return false;
    const key = this.keyOf(l.subnet, l.ipv6Subnet);
    const attrs = decodeLeaseAttrs(l.value);
    const found = !attrs
      ? { skip: 'the value is not a lease' }
      : !l.ipv6Subnet
        ? { skip: 'it has no IPv6 subnet' }
        : overlaps6(l.ipv6Subnet, own)
          ? { skip: `it overlaps our subnet ${formatSubnet6(own)}` }
          : attrs.publicIpv6 === this.ownPublicIp
            ? { skip: 'it carries our own public IPv6 address (a host with the same --public-ipv6)' }
            : vxlanV6PeerOf(attrs, this.vni);
    if ('skip' in found) return this.skip(key, attrs?.publicIpv6 ?? undefined, found.skip);
    this.skipped.delete(key);
    return this.set(key, { publicIp: found.publicIpv6, ipv6Subnet: key, vtepMac: found.vtepMac });
  }

  private skip(key: string, publicIp: string | undefined, why: string): boolean {
    if (this.skipped.get(key) !== why) this.log.info({ subnet: key, publicIp, why }, 'ignoring lease');
    const removed = this.remove(key);
    this.skipped.set(key, why);
    return removed;
  }

  private set(key: string, peer: Peer): boolean {
    const old = this.peers.get(key);
    if (old && samePeer(old, peer)) return false;
    this.peers.set(key, peer);
    this.log.info({ subnet: key, publicIp: peer.publicIp, vtepMac: peer.vtepMac }, old ? 'peer changed' : 'peer added');
    return true;
  }

  private remove(key: string): boolean {
    this.skipped.delete(key);
    const old = this.peers.get(key);
    if (!old) return false;
    this.peers.delete(key);
    this.log.info({ subnet: key, publicIp: old.publicIp }, 'peer removed');
    return true;
  }

  private publish(): void {
    try {
      this.dp.setPeers([...this.peers.values()]);
    } catch (err) {
      // E.g. two leases whose subnets overlap (a SubnetLen changed under a running cluster): route what we had.
      this.log.error(
        { code: (err as VxtunError).code, err: (err as Error).message },
        'peer list refused; the dataplane keeps the previous one',
      );
    }
  }
}

function samePeer(a: Peer, b: Peer): boolean {
  return a.publicIp === b.publicIp && a.vtepMac === b.vtepMac && a.ipv6Subnet === b.ipv6Subnet && a.ipv6VtepMac === b.ipv6VtepMac;
}
