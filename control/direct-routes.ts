/**
 * Flannel's `DirectRouting`: a peer whose public IP is on one of our directly connected underlay networks (the
 * kernel's route to it has no gateway) is reached without encapsulation, through a plain kernel route
 * `<peer subnet> via <public IP>`; it is more specific than the overlay route through the TUN, so the kernel
 * sends that traffic straight out of the underlay. Other peers stay on VXLAN. Routes are made with iproute2 and
 * removed when their peer goes and when the agent stops.
 */
import type { Peer } from '../dataplane/dataplane.js';
import { runCommand, type RunCommand } from './host-command.js';
import type { Logger } from './log.js';

export class DirectRoutes {
  /** Subnet -> the public IP it is routed via. */
  private readonly routes = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    private readonly run: RunCommand = runCommand,
  ) {}

  /** Brings the direct routes in line with the peer list (serialized; never throws). */
  apply(peers: readonly Peer[]): Promise<void> {
    this.queue = this.queue.then(() => this.sync(peers));
    return this.queue;
  }

  /** Removes every route this agent made. */
  clear(): Promise<void> {
    return this.apply([]);
  }

  private async sync(peers: readonly Peer[]): Promise<void> {
    const want = new Map<string, string>();
    for (const p of peers) {
      if (p.subnet && !p.publicIp.includes(':') && (await this.onLink(p.publicIp))) want.set(p.subnet, p.publicIp);
    }
    for (const [subnet, via] of this.routes) {
      if (want.get(subnet) === via) continue;
      await this.ip(['route', 'del', subnet, 'via', via], { subnet, via }, 'direct route removed');
      this.routes.delete(subnet);
    }
    for (const [subnet, via] of want) {
      if (this.routes.get(subnet) === via) continue;
      if (await this.ip(['route', 'replace', subnet, 'via', via], { subnet, via }, 'direct route added (DirectRouting: no encapsulation)'))
        this.routes.set(subnet, via);
    }
  }

  /** Flannel's test: exactly one route to the address, without a gateway. */
  private async onLink(addr: string): Promise<boolean> {
    try {
      const routes = JSON.parse(await this.run('ip', ['-j', 'route', 'get', addr])) as { gateway?: string; type?: string; dev?: string }[];
      return (
        routes.length === 1 && routes[0].gateway === undefined && routes[0].dev !== 'lo' && (routes[0].type ?? 'unicast') === 'unicast'
      );
    } catch {
      return false;
    }
  }

  private async ip(args: string[], fields: object, msg: string): Promise<boolean> {
    try {
      await this.run('ip', args);
      this.log.info(fields, msg);
      return true;
    } catch (err) {
      this.log.warn({ ...fields, err: (err as Error).message }, `ip ${args.join(' ')} failed; that peer stays on VXLAN`);
      return false;
    }
  }
}
