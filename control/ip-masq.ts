/**
 * flanneld's `--ip-masq`: traffic from our pods leaving the overlay is masqueraded to the node's address, traffic
 * inside the overlay is not, and the FORWARD chain accepts the overlay network. The rules are flanneld's
 * (pkg/trafficmngr), made with nftables (a table of our own) where the host has `nft`, else with iptables (chains of
 * our own hooked into POSTROUTING and FORWARD); checked every 5 s and put back when something removed them, as
 * flanneld does; removed when the agent stops.
 */
import { VxtunError } from '../dataplane/errors.js';
import { runCommand, type RunCommand } from './host-command.js';
import type { Logger } from './log.js';

export interface MasqNetworks {
  /** The whole overlay and our lease in it, per family (`10.244.0.0/16`, `10.244.7.0/24`). */
  /** Absent in an IPv6-only network. */
  v4?: { network: string; subnet: string };
  v6?: { network: string; subnet: string };
}

/** kube-proxy's mark: traffic it already NATs is left alone (flanneld's rule against double NAT). */
const KUBE_PROXY_MARK = '0x4000';
const REFRESH_MS = 5000;

type Family = { nft: 'ip' | 'ip6'; iptables: 'iptables' | 'ip6tables'; multicast: string; net: { network: string; subnet: string } };

export class IpMasq {
  private timer: NodeJS.Timeout | undefined;
  private readonly families: Family[];

  private constructor(
    readonly backend: 'nftables' | 'iptables',
    private readonly name: string,
    nets: MasqNetworks,
    private readonly log: Logger,
    private readonly run: RunCommand,
  ) {
    this.families = nets.v4 ? [{ nft: 'ip', iptables: 'iptables', multicast: '224.0.0.0/4', net: nets.v4 }] : [];
    if (nets.v6) this.families.push({ nft: 'ip6', iptables: 'ip6tables', multicast: 'ff00::/8', net: nets.v6 });
  }

  /** Installs the rules with whichever of nftables and iptables the host has, and keeps them in place. */
  static async start(tunName: string, nets: MasqNetworks, log: Logger, run: RunCommand = runCommand): Promise<IpMasq> {
    const backend = await run('nft', ['list', 'tables']).then(
      () => 'nftables' as const,
      () => 'iptables' as const,
    );
    const m = new IpMasq(backend, tunName.replace(/[^A-Za-z0-9_]/g, '_'), nets, log, run);
    await m.remove();
    try {
      await m.install();
    } catch (err) {
      await m.remove();
      throw new VxtunError(
        'VXTUN_ERR_PERMISSION',
        `--ip-masq could not install its ${backend} rules (${(err as Error).message}); run as root with CAP_NET_ADMIN, or drop --ip-masq`,
        { cause: err },
      );
    }
    log.info({ backend, ...nets }, 'ip-masq rules installed');
    m.timer = setInterval(() => {
      void m.refresh();
    }, REFRESH_MS);
    m.timer.unref();
    return m;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.remove();
    this.log.info({ backend: this.backend }, 'ip-masq rules removed');
  }

  private async refresh(): Promise<void> {
    if (await this.present()) return;
    this.log.warn({ backend: this.backend }, 'ip-masq rules were removed by something else; putting them back');
    await this.remove();
    await this.install().catch((err: Error) => this.log.error({ err: err.message }, 'could not put the ip-masq rules back'));
  }

  private table(): string {
    return `vxtun_${this.name}`;
  }

  private chain(kind: 'POSTRTG' | 'FWD'): string {
    return `VXTUN-${kind}-${this.name}`.slice(0, 28);
  }

  private async present(): Promise<boolean> {
    const f = this.families[0];
    return this.backend === 'nftables'
      ? this.run('nft', ['list', 'table', f.nft, this.table()]).then(
          () => true,
          () => false,
        )
      : this.run(f.iptables, ['-w', '-t', 'nat', '-C', 'POSTROUTING', '-j', this.chain('POSTRTG')]).then(
          () => true,
          () => false,
        );
  }

  private async install(): Promise<void> {
    for (const f of this.families) {
      if (this.backend === 'nftables') await this.run('nft', [nftScript(f, this.table())]);
      else await this.iptables(f);
    }
  }

  private async iptables(f: Family): Promise<void> {
    const { network, subnet } = f.net;
    const [post, fwd] = [this.chain('POSTRTG'), this.chain('FWD')];
    const ipt = (...args: string[]) => this.run(f.iptables, ['-w', ...args]);
    await ipt('-t', 'nat', '-N', post);
    for (const rule of [
      ['-m', 'mark', '--mark', `${KUBE_PROXY_MARK}/${KUBE_PROXY_MARK}`, '-j', 'RETURN'],
      ['-s', subnet, '-d', network, '-j', 'RETURN'],
      ['-s', network, '-d', subnet, '-j', 'RETURN'],
      ['-s', subnet, '!', '-d', f.multicast, '-j', 'MASQUERADE', '--random-fully'],
      ['!', '-s', network, '-d', subnet, '-j', 'RETURN'],
      ['!', '-s', network, '-d', network, '-j', 'MASQUERADE', '--random-fully'],
    ])
      await ipt('-t', 'nat', '-A', post, ...rule);
    await ipt('-t', 'nat', '-I', 'POSTROUTING', '1', '-j', post);
    await ipt('-t', 'filter', '-N', fwd);
    await ipt('-t', 'filter', '-A', fwd, '-s', network, '-j', 'ACCEPT');
    await ipt('-t', 'filter', '-A', fwd, '-d', network, '-j', 'ACCEPT');
    await ipt('-t', 'filter', '-I', 'FORWARD', '1', '-j', fwd);
  }

  /** Removes whatever of our rules exists; never throws. */
  private async remove(): Promise<void> {
    const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
    for (const f of this.families) {
      if (this.backend === 'nftables') {
        await quiet(this.run('nft', ['delete', 'table', f.nft, this.table()]));
        continue;
      }
      for (const [table, hook, chain] of [
        ['nat', 'POSTROUTING', this.chain('POSTRTG')],
        ['filter', 'FORWARD', this.chain('FWD')],
      ]) {
        // A jump may have been added twice by a crash mid-install; take them all (bounded).
        for (
          let i = 0;
          i < 8 &&
          (await this.run(f.iptables, ['-w', '-t', table, '-D', hook, '-j', chain]).then(
            () => true,
            () => false,
          ));
          i++
        );
        await quiet(this.run(f.iptables, ['-w', '-t', table, '-F', chain]));
        await quiet(this.run(f.iptables, ['-w', '-t', table, '-X', chain]));
      }
    }
  }
}

/** flanneld's masquerade and forward rules for one family as one nft transaction. */
function nftScript(f: Family, table: string): string {
  const { network, subnet } = f.net;
  const a = f.nft;
  return [
    `add table ${a} ${table}`,
    `add chain ${a} ${table} POSTRTG { type nat hook postrouting priority srcnat; }`,
    `add rule ${a} ${table} POSTRTG meta mark & ${KUBE_PROXY_MARK} == ${KUBE_PROXY_MARK} return`,
    `add rule ${a} ${table} POSTRTG ${a} saddr ${subnet} ${a} daddr ${network} return`,
    `add rule ${a} ${table} POSTRTG ${a} saddr ${network} ${a} daddr ${subnet} return`,
    `add rule ${a} ${table} POSTRTG ${a} saddr ${subnet} ${a} daddr != ${f.multicast} masquerade fully-random`,
    `add rule ${a} ${table} POSTRTG ${a} saddr != ${network} ${a} daddr ${subnet} return`,
    `add rule ${a} ${table} POSTRTG ${a} saddr != ${network} ${a} daddr ${network} masquerade fully-random`,
    `add chain ${a} ${table} FWD { type filter hook forward priority filter; }`,
    `add rule ${a} ${table} FWD ${a} saddr ${network} accept`,
    `add rule ${a} ${table} FWD ${a} daddr ${network} accept`,
  ].join('; ');
}
