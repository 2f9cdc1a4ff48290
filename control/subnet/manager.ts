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
import { inRange, inRange6, type NetworkConfig } from './config.js';
import { blockSize6, formatSubnet6, overlaps6, sameSubnet6, type Subnet6 } from './ip6.js';
import { blockSize, formatSubnet4, overlaps, sameSubnet, type Subnet4 } from './ip4.js';
import { decodeLeaseAttrs, encodeLeaseAttrs, NO_IPV4_SUBNET, type LeaseAttrs } from './lease.js';
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
  private ipv6Subnet: Subnet6 | undefined;
  private expiresAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly value: string;
  private readonly ttl: number;
  private readonly vtepMac: string | undefined;
  /** The VTEP MAC of the lease we reused for our PublicIP, when it was not ours (state lost, or a duplicate host). */
  private tookOverFrom: string | undefined;
  private defences = 0;
  /** The registry revision that created our key (when the store says), to tell which of two leases came first. */
  private created: bigint | undefined;
  /** Set when a conflict made us delete our own lease (it was the newer of two for one public IP). */
  released = false;

  /** Our identity in the registry: PublicIP, or PublicIPv6 in an IPv6-only network (where every PublicIP is 0.0.0.0). */
  private readonly id: string | null;

  constructor(private readonly o: LeaseManagerOptions) {
    this.value = encodeLeaseAttrs(o.attrs);
    this.id = this.idOf(o.attrs);
    this.ttl = o.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    this.vtepMac = vtepMacOf(o.attrs);
  }

  get lease(): { subnet: Subnet4; ipv6Subnet?: Subnet6; expiresAt: number } | null {
    return this.subnet ? { subnet: this.subnet, ipv6Subnet: this.ipv6Subnet, expiresAt: this.expiresAt } : null;
  }

  /** `previous`/`previous6`: the subnets of our last subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET). */
  async acquire(previous?: Subnet4, previous6?: Subnet6): Promise<{ subnet: Subnet4; ipv6Subnet?: Subnet6; how: AcquiredHow }> {
    const { store, config, log } = this.o;
    for (let attempt = 0; attempt < RACE_RETRIES; attempt++) {
      const { leases } = await store.list();
      const mine = leases.find((l) => this.idOf(decodeLeaseAttrs(l.value)) === this.id);
      if (mine && inRange(config, mine.subnet) && inRange6(config, mine.ipv6Subnet)) {
        const theirs = vtepMacOf(decodeLeaseAttrs(mine.value));
        if (theirs !== this.vtepMac) {
          this.tookOverFrom = theirs;
          log.warn(
            { subnet: label(mine.subnet, mine.ipv6Subnet), vtepMac: theirs },
            'the lease holding our PublicIP carries another VTEP MAC (our state dir was lost, or another host uses the same --public-ip); taking it over',
          );
        }
        return this.took(mine.subnet, mine.ipv6Subnet, await store.update(mine.subnet, this.value, this.ttl, mine.ipv6Subnet), 'reused');
      }
      if (mine) {
        log.warn(
          { subnet: label(mine.subnet, mine.ipv6Subnet) },
          'the lease holding our PublicIP does not fit the network config; deleting it',
        );
        await store.delete(mine.subnet, mine.ipv6Subnet);
        continue;
      }
      if (!config.enableIPv4) {
        // IPv6-only: every lease's IPv4 part is 0.0.0.0/0, so only the IPv6 subnets tell them apart.
        const fromPrevious = previous6 !== undefined && inRange6(config, previous6) && isFree6(leases, previous6);
        const candidate6 = fromPrevious ? previous6! : this.pickFree6(leases);
        previous6 = undefined;
        const ttl = await store.createIfAbsent(NO_IPV4_SUBNET, this.value, this.ttl, candidate6);
        if (ttl !== null) return this.took(NO_IPV4_SUBNET, candidate6, ttl, fromPrevious ? 'previous' : 'allocated');
        log.info(
          { ipv6Subnet: formatSubnet6(candidate6), attempt: attempt + 1 },
          'another node claimed the same subnet first; trying again',
        );
        continue;
      }
      const v6 = config.ipv6
        ? previous6 && inRange6(config, previous6) && isFree6(leases, previous6)
          ? previous6
          : this.pickFree6(leases)
        : undefined;
      if (previous && inRange(config, previous) && isFree(leases, previous)) {
        const ttl = await store.createIfAbsent(previous, this.value, this.ttl, v6);
        if (ttl !== null) return this.took(previous, v6, ttl, 'previous');
      }
      previous = undefined;
      previous6 = undefined;
      const candidate = this.pickFree(leases);
      const ttl = await store.createIfAbsent(candidate, this.value, this.ttl, v6);
      if (ttl !== null) return this.took(candidate, v6, ttl, 'allocated');
      log.info({ subnet: formatSubnet4(candidate), attempt: attempt + 1 }, 'another node claimed the same subnet first; trying again');
    }
    throw new VxtunError(
      'VXTUN_ERR_REGISTRY',
      `could not claim a subnet in ${RACE_RETRIES} tries: other nodes kept taking the chosen ones; retry in a moment`,
    );
  }

  /** Renews `margin` before expiry until stop(). */
  startRenewal(): void {
    if (!this.subnet) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'startRenewal() needs an acquired lease');
    this.schedule(this.renewDelayMs());
  }

  /** Feed every change under `<prefix>/subnets/` here: it notices when our own key is deleted or taken. */
  observe(c: LeaseChange): void {
    if (!this.subnet || this.stopped) return;
    const subnet = label(this.subnet, this.ipv6Subnet);
    if (c.type === 'delete') {
      if (!this.isOurs(c.subnet, c.ipv6Subnet)) return;
      this.o.log.warn(
        { subnet },
        'our lease is gone from the registry (deleted, or expired while the registry was unreachable); taking it back',
      );
      this.schedule(0, () => this.reclaim());
      return;
    }
    const attrs = decodeLeaseAttrs(c.lease.value);
    const publicIp = this.idOf(attrs) ?? 'unknown';
    const mac = vtepMacOf(attrs);
    if (!this.isOurs(c.lease.subnet, c.lease.ipv6Subnet)) {
      if (publicIp !== this.id || mac === this.vtepMac) return;
      // Two leases for one public IP (two hosts started at once with the same --public-ip): the newer one gives way.
      const theirs = c.lease.created;
      if (theirs !== undefined && this.created !== undefined && theirs < this.created) {
        return this.lost(
          `host with VTEP MAC ${mac ?? 'none'} has held a lease for our public IP ${publicIp} (${label(c.lease.subnet, c.lease.ipv6Subnet)}) since before ours: two hosts were given the same --public-ip`,
          undefined,
          true,
        );
      }
      this.o.log.error(
        { code: 'VXTUN_ERR_LEASE_CONFLICT', subnet: label(c.lease.subnet, c.lease.ipv6Subnet), publicIp, vtepMac: mac },
        'another host advertises our public IP in its own lease: two hosts were given the same --public-ip; its lease is not used as a peer',
      );
      return;
    }
    if (publicIp !== this.id) return this.lost(`host ${publicIp} (VTEP MAC ${mac ?? 'none'}) wrote its lease over ours`);
    if (c.lease.created !== undefined) this.created = c.lease.created;
    if (mac === this.vtepMac) return;
    if (mac !== undefined && mac === this.tookOverFrom) {
      return this.lost(
        `the host with VTEP MAC ${mac} that held this lease for public IP ${publicIp} is still running and wrote it back: two hosts were given the same --public-ip`,
      );
    }
    if (++this.defences > MAX_DEFENCES)
      return this.lost(`a host with our public IP ${publicIp} and VTEP MAC ${mac ?? 'none'} keeps overwriting it`);
    this.o.log.error(
      { code: 'VXTUN_ERR_LEASE_CONFLICT', subnet, publicIp, vtepMac: mac, ourVtepMac: this.vtepMac },
      'another host with our public IP overwrote our lease (same --public-ip on two hosts?); writing ours back',
    );
    this.schedule(0);
  }

  /** After a registry outage: renew at once when the renewal came due meanwhile. */
  renewIfDue(): void {
    if (this.subnet && !this.stopped && this.timer !== null && this.renewDelayMs() === 0) this.schedule(0);
  }

  /** The same for a full listing (the first, and each re-list after compaction): our key may have gone meanwhile. */
  observeSnapshot(leases: StoredLease[]): void {
    if (!this.subnet) return;
    const own = leases.find((l) => this.isOurs(l.subnet, l.ipv6Subnet));
    this.observe(own ? { type: 'put', lease: own } : { type: 'delete', subnet: this.subnet });
    for (const l of leases) if (l !== own) this.observe({ type: 'put', lease: l });
  }

  /** Stops renewing; the lease stays in the registry (like flanneld) so a restart gets the same subnet. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private idOf(a: LeaseAttrs | null): string | null {
    return (this.o.config.enableIPv4 ? a?.publicIp : a?.publicIpv6) ?? null;
  }

  /** Whether a key names our lease: its IPv4 subnet, and in an IPv6-only network its IPv6 subnet. */
  private isOurs(s: Subnet4, s6: Subnet6 | undefined): boolean {
    return sameSubnet(s, this.subnet!) && (this.o.config.enableIPv4 || sameSubnet6(s6, this.ipv6Subnet));
  }

  private took(
    subnet: Subnet4,
    ipv6Subnet: Subnet6 | undefined,
    ttlSeconds: number,
    how: AcquiredHow,
  ): { subnet: Subnet4; ipv6Subnet?: Subnet6; how: AcquiredHow } {
    this.subnet = subnet;
    this.ipv6Subnet = ipv6Subnet;
    this.expiresAt = Date.now() + ttlSeconds * 1000;
    this.o.log.info(
      {
        ...(this.o.config.enableIPv4 ? { subnet: formatSubnet4(subnet) } : {}),
        ...(ipv6Subnet ? { ipv6Subnet: formatSubnet6(ipv6Subnet) } : {}),
        how,
        ttlSeconds,
        expires: new Date(this.expiresAt).toISOString(),
      },
      'lease acquired',
    );
    return ipv6Subnet ? { subnet, ipv6Subnet, how } : { subnet, how };
  }

  private pickFree(leases: StoredLease[]): Subnet4 {
    const c = this.o.config;
    const step = blockSize(c.subnetLen);
    return this.pickAmong(
      function* () {
        for (let ip = c.subnetMin; ip <= c.subnetMax; ip += step) yield { ip, len: c.subnetLen };
      },
      (s) => isFree(leases, s),
      `no free /${c.subnetLen} subnet left between SubnetMin and SubnetMax (${leases.length} leases held); widen Network/SubnetMin/SubnetMax or delete stale leases`,
    );
  }

  /** Flannel picks the IPv6 subnet the same way, independently. */
  private pickFree6(leases: StoredLease[]): Subnet6 {
    const v6 = this.o.config.ipv6!;
    const step = blockSize6(v6.subnetLen);
    return this.pickAmong(
      function* () {
        for (let ip = v6.subnetMin; ip <= v6.subnetMax; ip += step) yield { ip, len: v6.subnetLen };
      },
      (s) => isFree6(leases, s),
      `no free /${v6.subnetLen} IPv6 subnet left between IPv6SubnetMin and IPv6SubnetMax; widen IPv6Network or delete stale leases`,
    );
  }

  /** At random among the first 100 free candidates, as Flannel does. */
  private pickAmong<T>(candidates: () => Generator<T>, free: (s: T) => boolean, exhausted: string): T {
    const found: T[] = [];
    for (const s of candidates()) {
      if (found.length >= FREE_CANDIDATES) break;
      if (free(s)) found.push(s);
    }
    if (found.length === 0) throw new VxtunError('VXTUN_ERR_CONFIG', exhausted);
    return found[Math.floor((this.o.random ?? Math.random)() * found.length)];
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
    this.timer = setTimeout(() => {
      this.timer = null;
      void task();
    }, delayMs);
  }

  private async renew(): Promise<void> {
    const subnet = this.subnet!;
    try {
      const ttl = await this.o.store.update(subnet, this.value, this.ttl, this.ipv6Subnet);
      if (this.stopped) return;
      this.expiresAt = Date.now() + ttl * 1000;
      this.o.log.info(
        { subnet: label(subnet, this.ipv6Subnet), ttlSeconds: ttl, expires: new Date(this.expiresAt).toISOString() },
        'lease renewed',
      );
      this.schedule(this.renewDelayMs());
    } catch (err) {
      this.o.log.warn(
        { subnet: label(subnet, this.ipv6Subnet), err: (err as Error).message, retryMs: this.retryMs() },
        'lease renewal failed; retrying',
      );
      this.schedule(this.retryMs());
    }
  }

  private async reclaim(): Promise<void> {
    const subnet = this.subnet!;
    try {
      const ttl = await this.o.store.createIfAbsent(subnet, this.value, this.ttl, this.ipv6Subnet);
      if (this.stopped) return;
      if (ttl === null)
        return this.lost('another host took it after it was gone from the registry', 'restart vxtun agent to lease a new subnet');
      this.expiresAt = Date.now() + ttl * 1000;
      this.o.log.info({ subnet: label(subnet, this.ipv6Subnet), ttlSeconds: ttl }, 'lease re-created');
      this.schedule(this.renewDelayMs());
    } catch (err) {
      this.o.log.warn({ subnet: label(subnet, this.ipv6Subnet), err: (err as Error).message }, 'taking our lease back failed; retrying');
      this.schedule(this.retryMs(), () => this.reclaim());
    }
  }

  /** Ends the run; `release` also deletes our lease (it was the newer of two for one public IP, so nobody else needs it). */
  private lost(why: string, todo = 'give every host its own --public-ip (and state dir), then restart this agent', release = false): void {
    const subnet = label(this.subnet!, this.ipv6Subnet);
    this.stop();
    if (release) {
      this.released = true;
      void this.o.store.delete(this.subnet!, this.ipv6Subnet).catch(() => undefined);
    }
    this.o.onLost(new VxtunError('VXTUN_ERR_LEASE_CONFLICT', `lease conflict on ${subnet}: ${why}; ${todo}`));
  }
}

/** A lease's subnets for the log: the IPv4 one, or the IPv6 one of an IPv6-only lease (IPv4 part 0.0.0.0/0). */
function label(s: Subnet4, s6: Subnet6 | undefined): string {
  return s.len === 0 && s6 ? formatSubnet6(s6) : formatSubnet4(s);
}

/** The VTEP MAC of BackendData, or of BackendV6Data in an IPv6-only lease. */
function vtepMacOf(a: LeaseAttrs | null): string | undefined {
  const data = (a?.backendData ?? a?.backendV6Data) as { VtepMAC?: unknown } | undefined;
  const mac = data?.VtepMAC;
  return typeof mac === 'string' ? mac.toLowerCase() : undefined;
}

function isFree(leases: StoredLease[], s: Subnet4): boolean {
  return !leases.some((l) => overlaps(l.subnet, s));
}

function isFree6(leases: StoredLease[], s: Subnet6): boolean {
  return !leases.some((l) => l.ipv6Subnet !== undefined && overlaps6(l.ipv6Subnet, s));
}
