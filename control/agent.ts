/**
 * `vxtun agent`: Flannel's etcd mode with vxtun as the vxlan backend. Reads `<prefix>/config`, takes a subnet
 * lease, starts the forwarder on it, writes subnet.env, then follows `<prefix>/subnets/` and hands every other
 * vxlan lease to the dataplane as a peer. SIGTERM stops it and leaves the lease in place, so a restart gets the
 * same subnet back (by PublicIP).
 */
import { isIPv4 } from 'node:net';
import { VxtunError } from '../dataplane/errors.js';
import type { Dataplane, Peer } from '../dataplane/dataplane.js';
import { EtcdClient, type EtcdClientOptions } from './etcd/index.js';
import { describeConfig, parseNetworkConfig, vxlanBackend } from './subnet/config.js';
import { formatSubnet4, overlaps, sameSubnet, type Subnet4 } from './subnet/ip4.js';
import { decodeLeaseAttrs, vxlanLeaseAttrs, vxlanPeerOf } from './subnet/lease.js';
import { LeaseManager } from './subnet/manager.js';
import { EtcdLeaseStore, type LeaseChange, type StoredLease } from './subnet/store.js';
import { readPreviousSubnet, writeSubnetEnv } from './subnet/subnet-env.js';
import { persistentVtepMac } from './state.js';
import { runUntilStopped, startHostDataplane } from './host-dataplane.js';
import type { Logger } from './log.js';

export interface AgentOptions {
  etcd: EtcdClientOptions;
  prefix: string;
  publicIp: string;
  subnetFile: string;
  stateDir: string;
  tunName: string;
  workers?: number;
  leaseTtlSeconds: number;
  statsInterval: number;
}

const EXAMPLE_CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';

export async function runAgent(o: AgentOptions, log: Logger): Promise<void> {
  if (!isIPv4(o.publicIp)) throw new VxtunError('VXTUN_ERR_CONFIG', `--public-ip ${o.publicIp} is not an IPv4 address; give the address other hosts reach this one on`);
  const prefix = o.prefix.replace(/\/+$/, '');
  const client = new EtcdClient(o.etcd);
  try {
    const configKey = `${prefix}/config`;
    const kv = await client.get(configKey);
    if (!kv) throw new VxtunError('VXTUN_ERR_CONFIG', `no network config at ${configKey}; create it with etcdctl put ${configKey} '${EXAMPLE_CONFIG}'`);
    const config = parseNetworkConfig(kv.value.toString('utf8'), configKey);
    const backend = vxlanBackend(config, configKey);
    log.info({ ...describeConfig(config), vni: backend.vni, port: backend.port }, 'network config');

    const vtep = persistentVtepMac(o.stateDir, o.tunName);
    if (vtep.created) log.info({ vtepMac: vtep.mac, stateDir: o.stateDir }, 'created a new VTEP MAC');
    let failAgent!: (err: VxtunError) => void;
    const fatal = new Promise<never>((_, reject) => { failAgent = reject; });
    fatal.catch(() => undefined);
    const store = new EtcdLeaseStore(client, prefix);
    const leases = new LeaseManager({
      store, config, attrs: vxlanLeaseAttrs(o.publicIp, backend.vni, vtep.mac), ttlSeconds: o.leaseTtlSeconds, log, onLost: failAgent,
    });
    const { subnet } = await leases.acquire(readPreviousSubnet(o.subnetFile));

    const dp = await startHostDataplane({
      vni: backend.vni, port: backend.port, publicIp: o.publicIp, subnet: formatSubnet4(subnet), network: formatSubnet4(config.network),
      vtepMac: vtep.mac, tunName: o.tunName, workers: o.workers, mtu: backend.mtu,
    }, log);
    let watch: { close(): void } | undefined;
    try {
      writeSubnetEnv(o.subnetFile, { network: config.network, subnet, mtu: dp.overlayMtu, ipMasq: false });
      log.info({ file: o.subnetFile }, 'subnet.env written');
      const peers = new LeasePeers(subnet, backend.vni, dp, log);
      watch = store.watch({
        snapshot: (ls) => { leases.observeSnapshot(ls); peers.snapshot(ls); },
        changes: (cs) => { for (const c of cs) leases.observe(c); peers.apply(cs); },
        error: failAgent,
      });
      leases.startRenewal();
    } catch (err) {
      watch?.close();
      await dp.stop();
      throw err;
    }
    log.info({ subnet: formatSubnet4(subnet), publicIp: o.publicIp, vtepMac: vtep.mac, tun: dp.tunName }, 'vxtun agent running');
    await runUntilStopped(dp, {
      statsInterval: o.statsInterval,
      fatal,
      beforeStop: () => {
        watch?.close();
        leases.stop();
        log.info({ subnet: formatSubnet4(subnet) }, 'lease kept in the registry for the next start');
      },
    }, log);
  } finally {
    client.close();
  }
}

/** The other hosts' vxlan leases, as the dataplane's peer list. Leases vxtun cannot use are logged once and skipped. */
export class LeasePeers {
  private readonly peers = new Map<string, Peer>();
  private readonly skipped = new Map<string, string>();

  constructor(private readonly own: Subnet4, private readonly vni: number, private readonly dp: Pick<Dataplane, 'setPeers'>, private readonly log: Logger) {}

  snapshot(leases: StoredLease[]): void {
    const seen = new Set(leases.map((l) => formatSubnet4(l.subnet)));
    let changed = false;
    for (const key of [...this.peers.keys()]) if (!seen.has(key)) changed = this.remove(key) || changed;
    for (const l of leases) changed = this.put(l) || changed;
    if (changed || this.peers.size === 0) this.publish();
  }

  apply(changes: LeaseChange[]): void {
    let changed = false;
    for (const c of changes) changed = (c.type === 'put' ? this.put(c.lease) : this.remove(formatSubnet4(c.subnet))) || changed;
    if (changed) this.publish();
  }

  private put(l: StoredLease): boolean {
    if (sameSubnet(l.subnet, this.own)) return false;
    const key = formatSubnet4(l.subnet);
    const attrs = decodeLeaseAttrs(l.value);
    const found = !attrs ? { skip: 'the value is not a lease' }
      : overlaps(l.subnet, this.own) ? { skip: `it overlaps our subnet ${formatSubnet4(this.own)}` }
        : vxlanPeerOf(attrs, this.vni);
    if ('skip' in found) {
      if (this.skipped.get(key) !== found.skip) this.log.info({ subnet: key, publicIp: attrs?.publicIp, why: found.skip }, 'ignoring lease');
      const removed = this.remove(key);
      this.skipped.set(key, found.skip);
      return removed;
    }
    this.skipped.delete(key);
    const peer: Peer = { publicIp: attrs!.publicIp, subnet: key, vtepMac: found.vtepMac };
    const old = this.peers.get(key);
    if (old && old.publicIp === peer.publicIp && old.vtepMac === peer.vtepMac) return false;
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
      this.log.error({ code: (err as VxtunError).code, err: (err as Error).message }, 'peer list refused; the dataplane keeps the previous one');
    }
  }
}
