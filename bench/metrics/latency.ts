import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from '../testbed/netns.js';
import { median } from '../stats.js';

export interface SockperfResult {
  /** Full round trip (sockperf --full-rtt), microseconds. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly averageUs: number;
  readonly observations: number;
}

export interface PingResult {
  readonly medianUs: number;
  readonly averageUs: number;
  readonly received: number;
  readonly transmitted: number;
}

// sockperf colours some lines with ANSI escapes; strip them before matching.
// biome-ignore lint/suspicious/noControlCharactersInRegex: it matches the ESC of ANSI colour codes on purpose
const ANSI = /\u001b\[[0-9;]*m/g;

/** Percentiles from `sockperf ping-pong --full-rtt` output. */
export function parseSockperf(text: string): SockperfResult {
  const plain = text.replace(ANSI, '');
  const number = (re: RegExp, what: string): number => {
    const match = re.exec(plain);
    if (match === null) {
      throw new VxtunError('VXTUN_ERR_BENCH', `sockperf output lacks ${what}: ${plain.trim().slice(-300)}`);
    }
    return Number(match[1]);
  };
  return {
    p50Us: number(/percentile 50\.000 =\s*([\d.]+)/, 'the 50th percentile'),
    p99Us: number(/percentile 99\.000 =\s*([\d.]+)/, 'the 99th percentile'),
    averageUs: number(/avg-(?:rtt|latency)=([\d.]+)/, 'the average'),
    observations: number(/Total (\d+) observations/, 'the observation count'),
  };
}

/** Per-reply round-trip times from iputils ping output, in microseconds. */
export function parsePing(text: string): PingResult {
  const rtts = [...text.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  const stats = /(\d+) packets transmitted, (\d+) received/.exec(text);
  if (stats === null || rtts.length === 0) {
    throw new VxtunError('VXTUN_ERR_BENCH', `ping got no reply: ${text.trim().slice(-300)}`);
  }
  return {
    medianUs: median(rtts),
    averageUs: rtts.reduce((sum, r) => sum + r, 0) / rtts.length,
    transmitted: Number(stats[1]),
    received: Number(stats[2]),
  };
}

export const SOCKPERF_PORT = 11111;

export async function runSockperfClient(tb: Testbed, client: HostName, serverIp: string, durationS: number): Promise<string> {
  const argv = ['sockperf', 'ping-pong', '-i', serverIp, '-p', String(SOCKPERF_PORT), '-t', String(durationS), '--full-rtt'];
  const result = await tb.exec(client, argv, { timeoutMs: (durationS + 20) * 1000, allowFail: true });
  return result.stdout + result.stderr;
}

/** One ping every 20 ms for the duration (at least 20 replies), so the median is not one packet's luck. */
export async function runPing(tb: Testbed, client: HostName, target: string, durationS: number): Promise<string> {
  const count = Math.max(20, Math.round(durationS * 50));
  const argv = ['ping', '-c', String(count), '-i', '0.02', '-W', '1', target];
  const result = await tb.exec(client, argv, { timeoutMs: (count * 0.02 + 20) * 1000, allowFail: true });
  return result.stdout + result.stderr;
}
