import { metricInfo, type MetricId } from '../catalog.js';
import { modeLabel, type ModeName } from '../modes.js';
import type { BenchResult, MetricSummary } from '../result.js';
import { formatValue } from './format.js';
import { wanSummary } from './wan.js';

/**
 * A grouped bar chart: one group per metric, one bar per mode, each bar the mode's median divided by the
 * baseline mode's median (kernel-vxlan when it has a value, else underlay), with a min–max whisker and the
 * measured value written above. Plain SVG text so it opens in any browser and diffs in review.
 */
const CHARTED: readonly MetricId[] = [
  'tcp1.ab',
  'tcp1.ba',
  'tcp4.ab',
  'tcp4.ba',
  'udp64.pps',
  'latency.p50',
  'latency.p99',
  'ping.rtt',
  'cpu.perGB',
  'cpu.busyPerGB',
];

export const MODE_COLOURS: Readonly<Record<ModeName, string>> = {
  underlay: '#9e9e9e',
  'kernel-vxlan': '#4e79a7',
  vxtun: '#f28e2b',
  'vxtun-split': '#f1ce63',
  tinc: '#59a14f',
  openvpn: '#e15759',
  'wireguard-go': '#b07aa1',
};

const MIN_GROUP_WIDTH = 118;
const BAR_WIDTH = 28;
const PLOT_TOP = 90;
const PLOT_HEIGHT = 300;
const LEFT = 70;
const MAX_SCALE = 3;

export function renderSvg(result: BenchResult): string {
  const rows = CHARTED.map((id) => result.summary.find((s) => s.id === id)).filter(
    (row): row is MetricSummary => row !== undefined && baseline(row) !== undefined,
  );
  const groupWidth = Math.max(MIN_GROUP_WIDTH, result.modes.length * BAR_WIDTH + 14);
  // Legend entries sit side by side, each as wide as its label.
  const legend: { mode: ModeName; label: string; x: number }[] = [];
  let legendEnd = LEFT;
  for (const mode of result.modes) {
    const label = modeLabel(mode);
    legend.push({ mode, label, x: legendEnd });
    legendEnd += 30 + label.length * 7;
  }
  const subtitle =
    `commit ${result.commit.slice(0, 12)}${result.dirty ? '+' : ''} · underlay MTU ` +
    `${result.testbed.underlayMtu} · offloads ${result.testbed.profile} · ${wanSummary(result)} · bars: median ÷ baseline ` +
    '(kernel-vxlan, else underlay); whiskers: min–max';
  // About 6 px a character at 11 px, 7 at 12 px: wide enough for the subtitle and the legend with few metrics too.
  const width = Math.max(LEFT + Math.max(1, rows.length) * groupWidth + 30, legendEnd + 20, LEFT + subtitle.length * 6);
  const height = PLOT_TOP + PLOT_HEIGHT + 110;
  const ratios = rows.flatMap((row) => result.modes.map((mode) => (row.modes[mode]?.max ?? 0) / (baseline(row)?.value ?? 1)));
  // Capped so one very slow bar does not flatten the others; a clipped bar is marked with ▲ above its value.
  const top = Math.min(MAX_SCALE, Math.max(1.5, Math.ceil(Math.max(0, ...ratios) * 2) / 2));
  const y = (ratio: number): number => PLOT_TOP + PLOT_HEIGHT - (Math.min(ratio, top) / top) * PLOT_HEIGHT;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="Helvetica, Arial, sans-serif" font-size="11">',
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(text(LEFT, 24, `vxtun benchmark ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`, 'start', 16, 'bold'));
  out.push(text(LEFT, 42, subtitle, 'start', 11));
  for (const { mode, label, x } of legend) {
    out.push(`<rect x="${x}" y="56" width="12" height="12" fill="${MODE_COLOURS[mode]}"/>`);
    out.push(text(x + 17, 66, label, 'start', 12));
  }
  for (let tick = 0; tick <= top + 1e-9; tick += 0.5) {
    const ty = y(tick);
    const dash = tick === 1 ? ' stroke-dasharray="5,3" stroke="#333"' : ' stroke="#e0e0e0"';
    out.push(`<line x1="${LEFT}" x2="${width - 20}" y1="${ty}" y2="${ty}"${dash}/>`);
    out.push(text(LEFT - 6, ty + 4, `${tick.toFixed(1)}×`, 'end', 10));
  }
  rows.forEach((row, g) => out.push(...group(row, g, groupWidth, result.modes, y)));
  out.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${PLOT_TOP}" y2="${PLOT_TOP + PLOT_HEIGHT}" stroke="#333"/>`);
  out.push(
    text(
      LEFT,
      height - 14,
      `↑ higher is better · ↓ lower is better · ▲ bar clipped at ${MAX_SCALE}× · "failed": the mode produced no value`,
      'start',
      10,
    ),
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function group(row: MetricSummary, g: number, groupWidth: number, modes: readonly ModeName[], y: (r: number) => number): string[] {
  const base = baseline(row);
  if (base === undefined) return [];
  const out: string[] = [];
  const x0 = LEFT + g * groupWidth + (groupWidth - modes.length * BAR_WIDTH) / 2;
  const floor = y(0);
  modes.forEach((mode, i) => {
    const x = x0 + i * BAR_WIDTH;
    const s = row.modes[mode];
    if (s === undefined) {
      out.push(text(x + BAR_WIDTH / 2, floor - 4, 'failed', 'middle', 8, 'normal', `rotate(-90 ${x + BAR_WIDTH / 2} ${floor - 4})`));
      return;
    }
    const barTop = y(s.median / base.value);
    out.push(
      `<rect x="${x + 2}" y="${barTop}" width="${BAR_WIDTH - 4}" height="${floor - barTop}" fill="${MODE_COLOURS[mode]}">` +
        `<title>${escapeXml(`${mode} ${row.label}: ${formatValue(s.median)} ${row.unit} (${formatValue(s.min)}–${formatValue(s.max)})`)}</title></rect>`,
    );
    const cx = x + BAR_WIDTH / 2;
    if (s.max > s.min) {
      out.push(`<line x1="${cx}" x2="${cx}" y1="${y(s.min / base.value)}" y2="${y(s.max / base.value)}" stroke="#222"/>`);
    }
    const clipped = s.median / base.value > MAX_SCALE;
    out.push(text(cx, Math.min(barTop, y(s.max / base.value)) - 4, `${clipped ? '▲' : ''}${formatValue(s.median)}`, 'middle', 9));
  });
  const cx = LEFT + g * groupWidth + groupWidth / 2;
  const arrow = row.better === 'higher' ? '↑' : '↓';
  const [first, second] = wrap(`${metricInfo(row.id).short} ${arrow}`);
  out.push(text(cx, floor + 16, first, 'middle', 11));
  if (second !== '') out.push(text(cx, floor + 30, second, 'middle', 11));
  out.push(text(cx, floor + 46, `${row.unit}, ÷ ${base.mode}`, 'middle', 9, 'normal', undefined, '#666'));
  return out;
}

function baseline(row: MetricSummary): { mode: ModeName; value: number } | undefined {
  for (const mode of ['kernel-vxlan', 'underlay', 'vxtun'] as const) {
    const value = row.modes[mode]?.median;
    if (value !== undefined && value > 0) return { mode, value };
  }
  return undefined;
}

/** Splits a label into two lines of at most ~18 characters at a space. */
function wrap(label: string): [string, string] {
  if (label.length <= 18) return [label, ''];
  const words = label.split(' ');
  let first = '';
  while (words.length > 0 && (first + words[0]).length <= 18) first += `${words.shift()} `;
  return [first.trim(), words.join(' ')];
}

function text(
  x: number,
  y: number,
  content: string,
  anchor: string,
  size: number,
  weight = 'normal',
  transform?: string,
  fill = '#222',
): string {
  const t = transform === undefined ? '' : ` transform="${transform}"`;
  return (
    `<text x="${x}" y="${y}" text-anchor="${anchor}" font-size="${size}" font-weight="${weight}" fill="${fill}"${t}>` +
    `${escapeXml(content)}</text>`
  );
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
