import client from 'prom-client';

/** Prometheus metrics of one registry instance (its own registry, so several can run in one process). */
export class RegistryMetrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({ name: 'vxtun_registry_requests_total', help: 'Requests by method and gRPC result code', labelNames: ['method', 'code'], registers: [this.registry] });
  private readonly fsyncs = new client.Histogram({ name: 'vxtun_registry_wal_fsync_seconds', help: 'Duration of one write + fdatasync of the write-ahead log', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [this.registry] });
  private readonly grouped = new client.Counter({ name: 'vxtun_registry_wal_records_total', help: 'Records written to the write-ahead log', registers: [this.registry] });
  private readonly revision = new client.Gauge({ name: 'vxtun_registry_revision', help: 'Current store revision', registers: [this.registry] });
  private readonly leases = new client.Gauge({ name: 'vxtun_registry_leases', help: 'Live leases', registers: [this.registry] });
  readonly watchers = new client.Gauge({ name: 'vxtun_registry_watchers', help: 'Open watchers', registers: [this.registry] });

  request(method: string, code: number): void { this.requests.inc({ method, code: String(code) }); }
  observeFsync(seconds: number, records: number): void { this.fsyncs.observe(seconds); this.grouped.inc(records); }
  setRevision(rev: number): void { this.revision.set(rev); }
  setLeases(n: number): void { this.leases.set(n); }
}
