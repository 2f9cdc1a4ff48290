/**
 * Flannel's lease policy over a LeaseStore. Acquire: reuse the lease that carries our PublicIP, else the subnet
 * of our last subnet.env if it is free, else a random one of the first 100 free subnets from SubnetMin, always
 * created with create-if-absent so two nodes never share a subnet. Renew: a fresh TTL `margin` before expiry,
 * retried on failure, forever. If our key disappears (deleted, or expired during a registry outage), take it back while
 * it is free. Conflicts end the run with VXTUN_ERR_LEASE_CONFLICT: our subnet written by another PublicIP, or by a
 * host with our PublicIP and another VTEP MAC (two hosts given the same --public-ip): the host that held the lease
 * first writes it back at once, and the one that took it over stops when it sees that.
 */
import { VxtunError } from '../../dataplane/errors.js';
import type { Logger } from '../../dataplane/dataplane.js';
import { inRange, type NetworkConfig } from './config.js';
import { blockSize, formatSubnet4, overlaps, sameSubnet, type Subnet4 } from './ip4.js';
import { decodeLeaseAttrs, encodeLeaseAttrs, type LeaseAttrs } from './lease.js';
import type { LeaseChange, LeaseStore, StoredLease } from './store.js';

export const DEFAULT_LEASE_TTL_SECONDS = 24 * 3600;
const RACE_RETRIES = 10;
const FREE_CANDIDATES = 100;

export interface LeaseManagerOptions {
  store: LeaseStore;
  config: NetworkConfig;
  attrs: LeaseAttrs;
  ttlSeconds?: number;
  /** Renew this long before expiry; default min(1 h, TTL/4), Flannel's one hour on its 24 h TTL. */
  renewMarginSeconds?: number;
  log: Logger;
  /** Our subnet now belongs to another node (or cannot be taken back); the caller must stop using it. */
  onLost(err: VxtunError): void;
  random?: () => number;
}

/** Rewrites of our own lease against a host with our PublicIP before we give up too. */
const MAX_DEFENCES = 3;

export type AcquiredHow = 'reused' | 'previous' | 'allocated';

export class LeaseManager {
  private subnet: Subnet4 | null = null;
  private expiresAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly value: string;
  private readonly ttl: number;
  private readonly vtepMac: string | undefined;
  /** The VTEP MAC of the lease we reused for our PublicIP, when it was not ours (state lost, or a duplicate host). */
  private tookOverFrom: string | undefined;
  private defences = 0;

  constructor(private readonly o: LeaseManagerOptions) {
    this.value = encodeLeaseAttrs(o.attrs);
    this.ttl = o.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    this.vtepMac = vtepMacOf(o.attrs);
  }

  get lease(): { subnet: Subnet4; expiresAt: number } | null {
    return this.subnet ? { subnet: this.subnet, expiresAt: this.expiresAt } : null;
  }

  async acquire(previous?: Subnet4): Promise<{ subnet: Subnet4; how: AcquiredHow }> {
    const { store, config, attrs, log } = this.o;
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const { leases } = await store.list();
      const mine = leases.find((l) => decodeLeaseAttrs(l.value)?.publicIp === attrs.publicIp);
      if (mine && inRange(config, mine.subnet)) {
        const theirs = vtepMacOf(decodeLeaseAttrs(mine.value));
        if (theirs !== this.vtepMac) {
          this.tookOverFrom = theirs;
          log.warn({ subnet: formatSubnet4(mine.subnet), vtepMac: theirs }, 'the lease holding our PublicIP carries another VTEP MAC (our state dir was lost, or another host uses the same --public-ip); taking it over');
        }
        return this.took(mine.subnet, await store.update(mine.subnet, this.value, this.ttl), 'reused');
      }
      if (mine) {
        log.warn({ subnet: formatSubnet4(mine.subnet) }, 'the lease holding our PublicIP does not fit the network config; deleting it');
        await store.delete(mine.subnet);
        continue;
      }
      if (previous && inRange(config, previous) && isFree(leases, previous)) {
        const ttl = await store.createIfAbsent(previous, this.value, this.ttl);
        if (ttl !== null) return this.took(previous, ttl, 'previous');
      }
      previous = undefined;
      const candidate = this.pickFree(leases);
      const ttl = await store.createIfAbsent(candidate, this.value, this.ttl);
      if (ttl !== null) return this.took(candidate, ttl, 'allocated');
      log.info({ subnet: formatSubnet4(candidate), attempt: attempt + 1 }, 'another node claimed the same subnet first; trying again');
    }
    throw new VxtunError('VXTUN_ERR_REGISTRY', `could not claim a subnet in ${RACE_RETRIES} tries: other nodes kept taking the chosen ones; retry in a moment`);
  }

  /** Renews `margin` before expiry until stop(). */
  startRenewal(): void {
    if (!this.subnet) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'startRenewal() needs an acquired lease');
    this.schedule(this.renewDelayMs());
  }

  /** Feed every change under `<prefix>/subnets/` here: it notices when our own key is deleted or taken. */
  observe(c: LeaseChange): void {
    if (!this.subnet || this.stopped) return;
    const subnet = formatSubnet4(this.subnet);
    if (c.type === 'delete') {
      if (!sameSubnet(c.subnet, this.subnet)) return;
      this.o.log.warn({ subnet }, 'our lease is gone from the registry (deleted, or expired while the registry was unreachable); taking it back');
      this.schedule(0, () => this.reclaim());
      return;
    }
    const attrs = decodeLeaseAttrs(c.lease.value);
    const publicIp = attrs?.publicIp ?? 'unknown';
    const mac = vtepMacOf(attrs);
    if (!sameSubnet(c.lease.subnet, this.subnet)) {
      if (publicIp === this.o.attrs.publicIp && mac !== this.vtepMac) {
        this.o.log.error({ code: 'VXTUN_ERR_LEASE_CONFLICT', subnet: formatSubnet4(c.lease.subnet), publicIp, vtepMac: mac },
          'another host advertises our public IP in its own lease: two hosts were given the same --public-ip; its lease is not used as a peer');
      }
      return;
    }
    if (publicIp !== this.o.attrs.publicIp) return this.lost(`host ${publicIp} (VTEP MAC ${mac ?? 'none'}) wrote its lease over ours`);
    if (mac === this.vtepMac) return;
    if (mac !== undefined && mac === this.tookOverFrom) {
      return this.lost(`the host with VTEP MAC ${mac} that held this lease for public IP ${publicIp} is still running and wrote it back: two hosts were given the same --public-ip`);
    }
    if (++this.defences > MAX_DEFENCES) return this.lost(`a host with our public IP ${publicIp} and VTEP MAC ${mac ?? 'none'} keeps overwriting it`);
    this.o.log.error({ code: 'VXTUN_ERR_LEASE_CONFLICT', subnet, publicIp, vtepMac: mac, ourVtepMac: this.vtepMac },
      'another host with our public IP overwrote our lease (same --public-ip on two hosts?); writing ours back');
    this.schedule(0);
  }

  /** After a registry outage: renew at once when the renewal came due meanwhile. */
  renewIfDue(): void {
    if (this.subnet && !this.stopped && this.timer !== null && this.renewDelayMs() === 0) this.schedule(0);
  }

  /** The same for a full listing (the first, and each re-list after compaction): our key may have gone meanwhile. */
  observeSnapshot(leases: StoredLease[]): void {
    if (!this.subnet) return;
    const own = leases.find((l) => sameSubnet(l.subnet, this.subnet!));
    this.observe(own ? { type: 'put', lease: own } : { type: 'delete', subnet: this.subnet });
  }

  /** Stops renewing; the lease stays in the registry (like flanneld) so a restart gets the same subnet. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private took(subnet: Subnet4, ttlSeconds: number, how: AcquiredHow): { subnet: Subnet4; how: AcquiredHow } {
    this.subnet = subnet;
    this.expiresAt = Date.now() + ttlSeconds * 1000;
    this.o.log.info({ subnet: formatSubnet4(subnet), how, ttlSeconds, expires: new Date(this.expiresAt).toISOString() }, 'lease acquired');
    return { subnet, how };
  }

  private pickFree(leases: StoredLease[]): Subnet4 {
    const { config } = this.o;
    const step = blockSize(config.subnetLen);
    const free: Subnet4[] = [];
    for (let ip = config.subnetMin; ip <= config.subnetMax && free.length < FREE_CANDIDATES; ip += step) {
      const s = { ip, len: config.subnetLen };
      if (isFree(leases, s)) free.push(s);
    }
    if (free.length === 0) {
      throw new VxtunError('VXTUN_ERR_CONFIG', `no free /${config.subnetLen} subnet left between SubnetMin and SubnetMax (${leases.length} leases held); widen Network/SubnetMin/SubnetMax or delete stale leases`);
    }
    return free[Math.floor((this.o.random ?? Math.random)() * free.length)];
  }

  private marginMs(): number {
    return this.o.renewMarginSeconds !== undefined ? this.o.renewMarginSeconds * 1000 : Math.min(3600_000, this.ttl * 250);
  }

  private renewDelayMs(): number {
    return Math.max(0, this.expiresAt - this.marginMs() - Date.now());
  }

  /** Flannel retries every minute; a short TTL needs retries that still land before expiry. */
  private retryMs(): number {
    return Math.min(60_000, Math.max(1000, this.marginMs() / 4));
  }

  private schedule(delayMs: number, task: () => Promise<void> = () => this.renew()): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; void task(); }, delayMs);
  }

  private async renew(): Promise<void> {
    const subnet = this.subnet!;
    try {
      const ttl = await this.o.store.update(subnet, this.value, this.ttl);
      if (this.stopped) return;
      this.expiresAt = Date.now() + ttl * 1000;
      this.o.log.info({ subnet: formatSubnet4(subnet), ttlSeconds: ttl, expires: new Date(this.expiresAt).toISOString() }, 'lease renewed');
      this.schedule(this.renewDelayMs());
    } catch (err) {
      this.o.log.warn({ subnet: formatSubnet4(subnet), err: (err as Error).message, retryMs: this.retryMs() }, 'lease renewal failed; retrying');
      this.schedule(this.retryMs());
    }
  }

  private async reclaim(): Promise<void> {
    const subnet = this.subnet!;
    try {
      const ttl = await this.o.store.createIfAbsent(subnet, this.value, this.ttl);
      if (this.stopped) return;
      if (ttl === null) return this.lost('another host took it after it was gone from the registry', 'restart vxtun agent to lease a new subnet');
      this.expiresAt = Date.now() + ttl * 1000;
      this.o.log.info({ subnet: formatSubnet4(subnet), ttlSeconds: ttl }, 'lease re-created');
      this.schedule(this.renewDelayMs());
    } catch (err) {
      this.o.log.warn({ subnet: formatSubnet4(subnet), err: (err as Error).message }, 'taking our lease back failed; retrying');
      this.schedule(this.retryMs(), () => this.reclaim());
    }
  }

  private lost(why: string, todo = 'give every host its own --public-ip (and state dir), then restart this agent'): void {
    const subnet = formatSubnet4(this.subnet!);
    this.stop();
    this.o.onLost(new VxtunError('VXTUN_ERR_LEASE_CONFLICT', `lease conflict on ${subnet}: ${why}; ${todo}`));
  }
}

function vtepMacOf(a: LeaseAttrs | null): string | undefined {
  const mac = (a?.backendData as { VtepMAC?: unknown } | undefined)?.VtepMAC;
  return typeof mac === 'string' ? mac.toLowerCase() : undefined;
}

function isFree(leases: StoredLease[], s: Subnet4): boolean {
  return !leases.some((l) => overlaps(l.subnet, s));
}
