import { metricInfo, type MetricId } from '../catalog.js';
import type { ModeName } from '../modes.js';
import type { BenchResult } from '../result.js';
import { formatValue } from './format.js';

/** Throughput metrics where the WAN relay can be the limit: a mode close to the underlay's figure is capped by it. */
const CAPPED_METRICS: readonly MetricId[] = ['tcp1.ab', 'tcp1.ba', 'tcp4.ab', 'tcp4.ba', 'udp64.pps'];
/** A mode at or above this share of the underlay's median is reported as held back by the relay. */
const CAPPED_SHARE = 0.8;

/** One line for headers and charts: "WAN: delay 10 ms, loss 0.5 % each way (userspace relay)" or "WAN: none". */
export function wanSummary(result: BenchResult): string {
  const wan = result.testbed.wan;
  return wan === undefined ? 'WAN: none' : `WAN: delay ${wan.delayMs} ms, loss ${wan.lossPct} % each way (userspace relay)`;
}

/** The Markdown paragraph that says how the WAN was made, what its relay counted, and where it capped the modes. */
export function wanNotes(result: BenchResult): string[] {
  const wan = result.testbed.wan;
  if (wan === undefined) return [];
  const lines = [`${wanSummary(result)}: made by ${wan.method}. Every mode's traffic crosses it, both ways.`];
  const relay = wan.relay;
  if (relay !== undefined) {
    const impaired = relay.relayed ?? 0;
    const lossShare = impaired > 0 ? ` (${formatValue((100 * (relay.loss ?? 0)) / impaired)} % of them)` : '';
    lines.push(
      `The relay carried ${impaired} packets over the whole run and dropped ${relay.loss ?? 0} for the loss${lossShare}; ` +
        `beyond the configured loss, ${relay.tunQueueFull ?? '?'} waited for the relay in a full queue and were dropped ` +
        `by the kernel, ${relay.queueFull ?? 0} found the delay buffer full and ${relay.sendFailed ?? 0} could not be written back.`,
    );
  }
  const cc = result.testbed.tcpCongestionControl;
  if (cc !== undefined) {
    lines.push(
      `TCP under loss moves as its congestion control lets it: this run used \`${cc}\`` +
        (cc === 'bbr'
          ? ', which does not take random loss for congestion; a loss-based control (cubic, reno) would move far less over this WAN.'
          : '.'),
    );
  }
  if (!result.modes.includes('underlay')) {
    lines.push('The `underlay` mode was not measured, so this run does not show what the relay itself allows.');
    return lines;
  }
  lines.push(
    'The relay has a ceiling of its own: the `underlay` column is the same path without a tunnel, so no mode can beat it; ' +
      'it shares the two cores with the modes, and its CPU counts in "whole machine" CPU per GB.',
  );
  const capped: string[] = [];
  for (const id of CAPPED_METRICS) {
    const row = result.summary.find((s) => s.id === id);
    const ceiling = row?.modes.underlay?.median;
    if (row === undefined || ceiling === undefined) continue;
    const near = (Object.keys(row.modes) as ModeName[]).filter(
      (mode) => mode !== 'underlay' && (row.modes[mode]?.median ?? 0) >= CAPPED_SHARE * ceiling,
    );
    if (near.length > 0) capped.push(`${metricInfo(id).label}: ${near.join(', ')}`);
  }
  lines.push(
    capped.length === 0
      ? `No mode reached ${CAPPED_SHARE * 100} % of the underlay's throughput, so the relay did not set any mode's figure.`
      : `Within ${100 - CAPPED_SHARE * 100} % of the underlay's figure, so held back by the relay rather than by ` +
          `themselves (compare them on CPU per GB instead): ${capped.join('; ')}.`,
  );
  return lines;
}
