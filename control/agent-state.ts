/**
 * What a running agent knows about itself, as one plain read-only object: the status socket, the metrics and
 * `/healthz`/`/readyz` all read `AgentState.status`, and only the agent writes it.
 */
import type { RouteHandler } from './http-endpoint.js';

export type AgentPhase = 'waiting' | 'running' | 'stopping';

export interface ResyncSummary {
  /** ISO time of the re-list. */
  readonly at: string;
  readonly peers: number;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

export interface AgentStatus {
  readonly phase: AgentPhase;
  /** What the agent is waiting for while phase is `waiting`. */
  readonly waitingFor: string | null;
  /** subnet is null in an IPv6-only network. */
  readonly lease: { readonly subnet: string | null; readonly ipv6Subnet: string | null; readonly expiresAt: string } | null;
  readonly registry: {
    readonly connected: boolean;
    /** ISO time the current outage began; null while connected. */
    readonly unreachableSince: string | null;
    readonly lastError: string | null;
  };
  /** Peers in the dataplane's table. */
  readonly peers: number;
  /** Re-lists after an outage or compaction (the first listing counts only when it ends an outage). */
  readonly resyncs: number;
  readonly lastResync: ResyncSummary | null;
  /** Lease held, dataplane up, subnet.env (and masquerade rules) in place. */
  readonly ready: boolean;
}

export class AgentState {
  private s: AgentStatus = {
    phase: 'waiting',
    waitingFor: 'the registry',
    lease: null,
    registry: { connected: false, unreachableSince: null, lastError: null },
    peers: 0,
    resyncs: 0,
    lastResync: null,
    ready: false,
  };

  private leaseOf: (() => AgentStatus['lease']) | undefined;

  /** A frozen snapshot; safe to hand out. */
  get status(): AgentStatus {
    return this.leaseOf ? Object.freeze({ ...this.s, lease: this.leaseOf() }) : this.s;
  }

  /** Reads the lease (subnet, expiry) from its owner on every `status`, so renewals show without a push. */
  followLease(leaseOf: () => AgentStatus['lease']): void {
    this.leaseOf = leaseOf;
  }

  update(patch: Partial<AgentStatus>): void {
    this.s = Object.freeze({ ...this.s, ...patch });
  }

  /** Marks the registry unreachable; returns true when this starts an outage (it was connected or never seen). */
  registryDown(err: string, now = new Date()): boolean {
    const starting = this.s.registry.unreachableSince === null;
    this.update({
      registry: Object.freeze({
        connected: false,
        unreachableSince: starting ? now.toISOString() : this.s.registry.unreachableSince,
        lastError: err,
      }),
    });
    return starting;
  }

  registryUp(): void {
    if (this.s.registry.connected) return;
    this.update({ registry: Object.freeze({ connected: true, unreachableSince: null, lastError: this.s.registry.lastError }) });
  }

  /** `/healthz` (200 while the process serves, like flanneld's) and `/readyz` (200 once ready), both with the status as JSON. */
  healthRoutes(): Record<string, RouteHandler> {
    const json = (status: number) => ({ status, body: `${JSON.stringify(this.status)}\n`, contentType: 'application/json' });
    return {
      '/healthz': () => json(200),
      '/readyz': () => json(this.s.ready && this.s.phase === 'running' ? 200 : 503),
    };
  }
}
