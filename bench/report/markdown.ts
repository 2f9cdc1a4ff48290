import { REPORTED_FEATURES } from '../testbed/offloads.js';
import { metricInfo } from '../catalog.js';
import { KERNEL_MODES, modeLabel, type ModeName } from '../modes.js';
import type { BenchResult, MetricSummary } from '../result.js';
import type { Summary } from '../stats.js';
import { formatValue } from './format.js';
import { wanNotes, wanSummary } from './wan.js';

/** The run as a Markdown page: context, the table of medians with ranges, the targets, and every failure. */
export function renderMarkdown(result: BenchResult): string {
  const opts = result.options as { durationS?: number; repetitions?: number };
  const lines: string[] = [];
  lines.push(`# vxtun benchmark, ${result.startedAt}`, '');
  lines.push(
    `Commit \`${result.commit.slice(0, 12)}\`${result.dirty ? ' (with uncommitted changes)' : ''} · ` +
      `Linux ${result.machine.kernel} · ${result.machine.cpus} × ${result.machine.cpuModel} · Node ${result.machine.node}` +
      loadLine(result),
    '',
  );
  lines.push(
    `Testbed: two network namespaces joined by ${result.testbed.wan ? 'veths through a third that relays between them' : 'one veth pair'}; ` +
      `underlay MTU ${result.testbed.underlayMtu}, overlay MTU ${result.testbed.overlayMtu}; ` +
      `offload profile \`${result.testbed.profile}\`; ${wanSummary(result)}` +
      `${result.testbed.tcpCongestionControl ? `; TCP congestion control \`${result.testbed.tcpCongestionControl}\`` : ''}.`,
  );
  lines.push(`veth offloads (host a): ${offloadLine(result.testbed.offloads.a ?? {})}.`, '');
  lines.push(
    `${opts.repetitions ?? '?'} repetitions × ${opts.durationS ?? '?'} s per measurement, modes interleaved ` +
      'within each repetition. Cells: median (min–max).',
    '',
  );

  lines.push('## Results', '');
  const showRatio = result.modes.includes('vxtun') && result.modes.includes('kernel-vxlan');
  const columns = [...result.modes.map(modeLabel), ...(showRatio ? ['vxtun / kernel-vxlan'] : [])];
  lines.push(`| Metric | Unit | ${columns.join(' | ')} |`);
  lines.push(`|---|---|${columns.map(() => '---:').join('|')}|`);
  for (const row of result.summary) {
    const cells = result.modes.map((mode) => cell(row, mode, result));
    if (showRatio) cells.push(row.ratio === undefined ? '–' : `${row.ratio.toFixed(2)}×`);
    lines.push(`| ${row.label} | ${row.unit} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  const details = Object.entries(result.modeDetails ?? {});
  if (details.length > 0) {
    lines.push('Userspace forwarders, as they ran:', '');
    for (const [mode, text] of details) lines.push(`- \`${mode}\`: ${text}`);
    lines.push('');
  }

  lines.push('## Targets (vxtun against kernel VXLAN, same run)', '');
  if (result.testbed.wan !== undefined) {
    lines.push(
      "The targets are set for the bare testbed. Over this WAN the relay's ceiling holds both modes' throughput " +
        'down (see the notes), so a throughput target met or missed here says little about the packet path.',
      '',
    );
  }
  lines.push('| Metric | Target | vxtun | kernel-vxlan | Result |', '|---|---|---:|---:|---|');
  for (const t of result.targets) {
    const unit = metricInfo(t.metric).unit;
    const fmt = (v: number | undefined): string => (v === undefined ? '–' : `${formatValue(v)} ${unit}`);
    const verdict = t.met === undefined ? 'not measured' : t.met ? '**met**' : '**not met**';
    lines.push(`| ${t.label} | ${t.rule} | ${fmt(t.vxtun)} | ${fmt(t.kernel)} | ${verdict} |`);
  }
  lines.push('');

  if (result.failures.length > 0) {
    lines.push('## Failures', '');
    // Reasons quote program output; escape angle brackets so a renderer shows them instead of eating them as HTML.
    for (const failure of result.failures) {
      lines.push(`- ${failure.replace(/\s+/g, ' ').slice(0, 600).replace(/</g, '&lt;').replace(/>/g, '&gt;')}`);
    }
    lines.push('');
  }
  lines.push('## Notes', '');
  for (const note of wanNotes(result)) lines.push(`- ${note}`);
  lines.push(
    '- CPU per GB: vxtun and the userspace tunnels count their own processes (utime + stime of both ' +
      'forwarders or daemons, all threads); ' +
      "kernel-vxlan and underlay count the machine's sys + irq + softirq time, which includes the TCP stacks of the " +
      'iperf3 endpoints. "Whole machine" counts all non-idle CPU time for every mode (other load on the machine included).',
  );
  lines.push(
    '- Latency is the full round trip of a UDP request/response (sockperf ping-pong --full-rtt); ' +
      'ping is the median ICMP echo round trip.',
  );
  lines.push(
    "- Traffic runs between the hosts' overlay addresses (`<subnet>.0`, as Flannel uses) or, for underlay, " +
      'their veth addresses. "a→b": the iperf3 client on host a sends; "b→a": the same client with -R.',
  );
  return `${lines.join('\n')}\n`;
}

function cell(row: MetricSummary, mode: ModeName, result: BenchResult): string {
  const s: Summary | undefined = row.modes[mode];
  if (s !== undefined)
    return s.max > s.min ? `${formatValue(s.median)} (${formatValue(s.min)}–${formatValue(s.max)})` : formatValue(s.median);
  if (metricInfo(row.id).forwarderOnly === true && KERNEL_MODES.includes(mode)) return '–';
  return result.runs.some((r) => r.mode === mode) ? 'failed' : '–';
}

function offloadLine(features: Record<string, string>): string {
  return REPORTED_FEATURES.map((name) => `${name} ${features[name] ?? '?'}`).join(', ');
}

function loadLine(result: BenchResult): string {
  const load = result.machine.loadAverage;
  if (load === undefined) return '';
  return ` · load average (1 min) ${load.start[0].toFixed(2)} at start, ${load.end[0].toFixed(2)} at end`;
}
