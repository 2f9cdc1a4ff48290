import client from 'prom-client';

/** What the etcd-named series read from the running registry when scraped. */
export interface MetricsSource {
  keys(): number;
  watchers(): number;
  revision(): number;
  committed(): number;
  diskBytes(): Promise<number>;
}

/**
 * Prometheus metrics of one registry instance (its own registry, so several can run in one process): the
 * registry's own `vxtun_registry_*` series, and the etcd series dashboards and alerts for etcd use, with etcd's
 * names, types, help texts and buckets. A single registry is its own leader, so has_leader and is_leader are 1;
 * the db sizes are the data directory's snapshot plus log segments.
 */
export class RegistryMetrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({
    name: 'vxtun_registry_requests_total',
    help: 'Requests by method and gRPC result code',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });
  private readonly fsyncs = new client.Histogram({
    name: 'vxtun_registry_wal_fsync_seconds',
    help: 'Duration of one write + fdatasync of the write-ahead log',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  private readonly grouped = new client.Counter({
    name: 'vxtun_registry_wal_records_total',
    help: 'Records written to the write-ahead log',
    registers: [this.registry],
  });
  private readonly revision = new client.Gauge({
    name: 'vxtun_registry_revision',
    help: 'Current store revision',
    registers: [this.registry],
  });
  private readonly leases = new client.Gauge({ name: 'vxtun_registry_leases', help: 'Live leases', registers: [this.registry] });
  private readonly etcdFsyncs = new client.Histogram({
    name: 'etcd_disk_wal_fsync_duration_seconds',
    help: 'The latency distributions of fsync called by WAL.',
    buckets: client.exponentialBuckets(0.001, 2, 14),
    registers: [this.registry],
  });
  private source: MetricsSource | undefined;

  constructor() {
    const gauge = (name: string, help: string, read: (s: MetricsSource) => number | Promise<number>) => {
      const self = this;
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          if (self.source) this.set(await read(self.source));
        },
      });
    };
    gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', () => 1);
    gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', () => 1);
    gauge('vxtun_registry_watchers', 'Open watchers', (s) => s.watchers());
    gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', (s) => s.watchers());
    gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', (s) => s.keys());
    gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.', (s) => s.revision());
    gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.', (s) => s.committed());
    gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', (s) => s.diskBytes());
    gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.', (s) =>
      s.diskBytes(),
    );
  }

  /** Connects the scrape-time series to the running registry. */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  request(method: string, code: number): void {
    this.requests.inc({ method, code: String(code) });
  }
  observeFsync(seconds: number, records: number): void {
    this.fsyncs.observe(seconds);
    this.etcdFsyncs.observe(seconds);
    this.grouped.inc(records);
  }
  setRevision(rev: number): void {
    this.revision.set(rev);
  }
  setLeases(n: number): void {
    this.leases.set(n);
  }
}
