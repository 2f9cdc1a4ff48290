import { VxtunError } from '../dataplane/errors.js';
import type { MetricGroup, MetricId } from './catalog.js';
import { peakRssBytes, processCpuSeconds, systemCpuSeconds } from './metrics/cpu.js';
import { IPERF_PORT, parseIperfTcp, parseIperfUdp, runIperfClient } from './metrics/iperf.js';
import { SOCKPERF_PORT, parsePing, parseSockperf, runPing, runSockperfClient } from './metrics/latency.js';
import type { ModeSession } from './modes.js';
import type { Testbed } from './testbed/netns.js';
import type { TrackedProcess } from './testbed/process.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Samples of one mode in one repetition, and why a metric is missing where one is. */
export interface SessionSamples {
  readonly samples: Partial<Record<MetricId, number>>;
  readonly errors: Partial<Record<MetricId, string>>;
}

export interface SessionPlan {
  readonly metrics: readonly MetricGroup[];
  readonly durationS: number;
  /** Called with each finished measurement, for progress output. */
  readonly onSample: (id: MetricId, value: number | undefined, error?: string) => void;
}

interface CpuTotals {
  cpu: number;
  busy: number;
  bytes: number;
}

/** Traffic flows a → b (client on a, servers on b); "b→a" runs use the client's reverse mode. */
export async function measureSession(tb: Testbed, session: ModeSession, plan: SessionPlan): Promise<SessionSamples> {
  const samples: Partial<Record<MetricId, number>> = {};
  const errors: Partial<Record<MetricId, string>> = {};
  const record = (id: MetricId, value: number): void => {
    samples[id] = value;
    plan.onSample(id, value);
  };
  const fail = (ids: readonly MetricId[], err: unknown): void => {
    const health = session.health();
    const reason = (err instanceof Error ? err.message : String(err)) + (health === undefined ? '' : `; ${health}`);
    for (const id of ids) {
      errors[id] = reason;
      plan.onSample(id, undefined, reason);
    }
  };
  const server = session.address.b;
  const servers = await startServers(tb, server);
  try {
    const totals: CpuTotals = { cpu: 0, busy: 0, bytes: 0 };
    for (const streams of [1, 4] as const) {
      if (!plan.metrics.includes(streams === 1 ? 'tcp1' : 'tcp4')) continue;
      for (const reverse of [false, true]) {
        const id: MetricId = `tcp${streams}.${reverse ? 'ba' : 'ab'}`;
        try {
          const before = cpuSnapshot(session);
          const json = await runIperfClient(tb, 'a', server, { streams, reverse, udp64: false, durationS: plan.durationS });
          const after = cpuSnapshot(session);
          const tcp = parseIperfTcp(json);
          totals.cpu += after.cpu - before.cpu;
          totals.busy += after.busy - before.busy;
          totals.bytes += tcp.bytes;
          record(id, tcp.bitsPerSecond / 1e9);
        } catch (err) {
          fail([id], err);
        }
      }
    }
    if (totals.bytes > 0) {
      record('cpu.perGB', totals.cpu / (totals.bytes / 1e9));
      record('cpu.busyPerGB', totals.busy / (totals.bytes / 1e9));
    }
    if (plan.metrics.includes('udp64')) {
      try {
        const udp = parseIperfUdp(
          await runIperfClient(tb, 'a', server, { streams: 1, reverse: false, udp64: true, durationS: plan.durationS }),
        );
        record('udp64.pps', udp.packetsPerSecond / 1000);
        record('udp64.loss', udp.lostPercent);
      } catch (err) {
        fail(['udp64.pps', 'udp64.loss'], err);
      }
    }
    if (plan.metrics.includes('latency')) {
      try {
        const rtt = parseSockperf(await runSockperfClient(tb, 'a', server, plan.durationS));
        record('latency.p50', rtt.p50Us);
        record('latency.p99', rtt.p99Us);
      } catch (err) {
        fail(['latency.p50', 'latency.p99'], err);
      }
    }
    if (plan.metrics.includes('ping')) {
      try {
        record('ping.rtt', parsePing(await runPing(tb, 'a', server, plan.durationS)).medianUs);
      } catch (err) {
        fail(['ping.rtt'], err);
      }
    }
    if (session.forwarderPids.length > 0) {
      const peaks = session.forwarderPids.map(peakRssBytes);
      if (peaks.every((p) => p !== undefined)) record('rss.peak', Math.max(...(peaks as number[])) / 1e6);
      else fail(['rss.peak'], new VxtunError('VXTUN_ERR_BENCH', 'a forwarder exited before its RSS was read'));
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop(1000)));
  }
  return { samples, errors };
}

function cpuSnapshot(session: ModeSession): { cpu: number; busy: number } {
  const system = systemCpuSeconds();
  const cpu =
    session.cpuAccounting === 'process' ? session.forwarderPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) : system.kernel;
  return { cpu, busy: system.busy };
}

/** iperf3 and sockperf servers on host b, bound to the mode's address; waits (bounded) until both listen. */
async function startServers(tb: Testbed, address: string): Promise<TrackedProcess[]> {
  const servers = [
    tb.spawn('b', ['iperf3', '-s', '-B', address, '-p', String(IPERF_PORT)]),
    tb.spawn('b', ['sockperf', 'server', '-i', address, '-p', String(SOCKPERF_PORT)]),
  ];
  const want = [`:${IPERF_PORT}`, `:${SOCKPERF_PORT}`];
  for (let i = 0; i < 100; i++) {
    const { stdout } = await tb.exec('b', ['ss', '-Hlntu'], { allowFail: true });
    if (want.every((port) => stdout.includes(port))) return servers;
    await sleep(50);
  }
  await Promise.all(servers.map((s) => s.stop(1000)));
  throw new VxtunError(
    'VXTUN_ERR_BENCH',
    `iperf3/sockperf servers did not start on ${address}: ${servers.map((s) => s.output().trim()).join(' | ')}`,
  );
}
