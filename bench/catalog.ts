/** What the benchmark measures, the units it reports in, and the project's targets against kernel VXLAN. */

export type MetricGroup = 'tcp1' | 'tcp4' | 'udp64' | 'latency' | 'ping';
export const METRIC_GROUPS: readonly MetricGroup[] = ['tcp1', 'tcp4', 'udp64', 'latency', 'ping'];

export type MetricId =
  | 'tcp1.ab'
  | 'tcp1.ba'
  | 'tcp4.ab'
  | 'tcp4.ba'
  | 'udp64.pps'
  | 'udp64.loss'
  | 'latency.p50'
  | 'latency.p99'
  | 'ping.rtt'
  | 'cpu.perGB'
  | 'cpu.busyPerGB'
  | 'rss.peak';

export interface MetricInfo {
  readonly id: MetricId;
  readonly label: string;
  /** A label short enough to sit under a bar group in the chart. */
  readonly short: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Only meaningful for modes with a forwarder process. */
  readonly forwarderOnly?: boolean;
  /** A ratio of this metric says nothing (a loss percentage near zero makes any ratio huge). */
  readonly noRatio?: boolean;
}

export const METRICS: readonly MetricInfo[] = [
  { id: 'tcp1.ab', short: 'TCP×1 a→b', label: 'TCP 1 stream a→b', unit: 'Gbit/s', better: 'higher' },
  { id: 'tcp1.ba', short: 'TCP×1 b→a', label: 'TCP 1 stream b→a', unit: 'Gbit/s', better: 'higher' },
  { id: 'tcp4.ab', short: 'TCP×4 a→b', label: 'TCP 4 streams a→b', unit: 'Gbit/s', better: 'higher' },
  { id: 'tcp4.ba', short: 'TCP×4 b→a', label: 'TCP 4 streams b→a', unit: 'Gbit/s', better: 'higher' },
  { id: 'udp64.pps', short: 'UDP 64 B pps', label: 'UDP 64 B received', unit: 'kpps', better: 'higher' },
  { id: 'udp64.loss', short: 'UDP loss', label: 'UDP 64 B loss', unit: '%', better: 'lower', noRatio: true },
  { id: 'latency.p50', short: 'RR p50', label: 'Request/response p50', unit: 'µs', better: 'lower' },
  { id: 'latency.p99', short: 'RR p99', label: 'Request/response p99', unit: 'µs', better: 'lower' },
  { id: 'ping.rtt', short: 'ping RTT', label: 'Ping RTT (median)', unit: 'µs', better: 'lower' },
  { id: 'cpu.perGB', short: 'CPU/GB fwd/sys', label: 'CPU per GB (forwarder; kernel: sys+softirq)', unit: 'CPU-s/GB', better: 'lower' },
  { id: 'cpu.busyPerGB', short: 'CPU/GB machine', label: 'CPU per GB (whole machine)', unit: 'CPU-s/GB', better: 'lower' },
  { id: 'rss.peak', short: 'peak RSS', label: 'Forwarder peak RSS', unit: 'MB', better: 'lower', forwarderOnly: true },
];

export function metricInfo(id: MetricId): MetricInfo {
  const info = METRICS.find((m) => m.id === id);
  if (info === undefined) throw new Error(`unknown metric ${id}`);
  return info;
}

/**
 * A target compares vxtun's median with kernel VXLAN's median from the same run:
 * `min-ratio`: vxtun ≥ bound × kernel; `max-ratio`: vxtun ≤ bound × kernel;
 * `max-delta`: vxtun ≤ kernel + bound; `max-absolute`: vxtun ≤ bound.
 */
export interface Target {
  readonly metric: MetricId;
  readonly rule: 'min-ratio' | 'max-ratio' | 'max-delta' | 'max-absolute';
  readonly bound: number;
}

export const TARGETS: readonly Target[] = [
  { metric: 'tcp1.ab', rule: 'min-ratio', bound: 0.8 },
  { metric: 'tcp1.ba', rule: 'min-ratio', bound: 0.8 },
  { metric: 'tcp4.ab', rule: 'min-ratio', bound: 0.8 },
  { metric: 'tcp4.ba', rule: 'min-ratio', bound: 0.8 },
  { metric: 'udp64.pps', rule: 'min-ratio', bound: 0.8 },
  { metric: 'latency.p50', rule: 'max-delta', bound: 20 },
  { metric: 'latency.p99', rule: 'max-delta', bound: 50 },
  { metric: 'cpu.perGB', rule: 'max-ratio', bound: 2 },
  { metric: 'rss.peak', rule: 'max-absolute', bound: 150 },
];

export function describeTarget(target: Target): string {
  const unit = metricInfo(target.metric).unit;
  switch (target.rule) {
    case 'min-ratio':
      return `vxtun ≥ ${target.bound.toFixed(2)} × kernel`;
    case 'max-ratio':
      return `vxtun ≤ ${target.bound} × kernel`;
    case 'max-delta':
      return `vxtun ≤ kernel + ${target.bound} ${unit}`;
    case 'max-absolute':
      return `vxtun ≤ ${target.bound} ${unit}`;
  }
}

/** true/false when both medians needed exist; undefined when the target could not be judged. */
export function targetMet(target: Target, vxtun: number | undefined, kernel: number | undefined): boolean | undefined {
  if (vxtun === undefined) return undefined;
  if (target.rule === 'max-absolute') return vxtun <= target.bound;
  if (kernel === undefined) return undefined;
  switch (target.rule) {
    case 'min-ratio':
      return vxtun >= target.bound * kernel;
    case 'max-ratio':
      return vxtun <= target.bound * kernel;
    case 'max-delta':
      return vxtun <= kernel + target.bound;
  }
}
