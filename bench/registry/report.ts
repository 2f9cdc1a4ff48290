/** The registry benchmark's table (embedded beside etcd, ratio, goal) and its JSON record. */
import type { Fanout, Throughput } from './workloads.js';

export interface ServerFigures {
  server: string;
  version: string;
  error?: string;
  puts?: Throughput;
  ranges?: Throughput;
  fanout?: Fanout;
}

interface Row {
  metric: string;
  better: 'higher' | 'lower';
  value(f: ServerFigures): number | undefined;
  /** Goal on embedded/etcd, or undefined when the metric has none. */
  goal?: { minRatio: number; text: string };
}

const THROUGHPUT_GOAL = { minRatio: 0.5, text: '>= 0.5 x etcd' };

export const ROWS: Row[] = [
  { metric: 'puts/s', better: 'higher', value: (f) => f.puts?.perSecond, goal: THROUGHPUT_GOAL },
  { metric: 'ranges/s', better: 'higher', value: (f) => f.ranges?.perSecond, goal: THROUGHPUT_GOAL },
  { metric: 'fan-out p50 ms', better: 'lower', value: (f) => f.fanout?.p50Ms },
  { metric: 'fan-out p99 ms', better: 'lower', value: (f) => f.fanout?.p99Ms },
  { metric: 'fan-out missed', better: 'lower', value: (f) => f.fanout?.missed },
];

export interface RowResult {
  metric: string;
  embedded?: number;
  etcd?: number;
  ratio?: number;
  goal?: string;
  met?: boolean;
}

export function compare(embedded: ServerFigures, etcd: ServerFigures): RowResult[] {
  return ROWS.map((r) => {
    const e = r.value(embedded);
    const o = r.value(etcd);
    const ratio = e !== undefined && o !== undefined && o !== 0 ? e / o : undefined;
    const met = r.goal === undefined || ratio === undefined ? undefined : ratio >= r.goal.minRatio;
    return { metric: r.metric, embedded: e, etcd: o, ratio, goal: r.goal?.text, met };
  });
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));

export function table(rows: RowResult[], etcdVersion: string): string {
  const head = ['metric', 'embedded', etcdVersion, 'embedded/etcd', 'goal', 'met'];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.embedded),
    fmt(r.etcd),
    fmt(r.ratio, 2),
    r.goal ?? '-',
    r.met === undefined ? (r.goal ? 'n/a' : '-') : r.met ? 'met' : 'NOT MET',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
