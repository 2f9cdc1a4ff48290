#!/usr/bin/env node
/**
 * RSS soak: `vxtun static` (as the benchmark's vxtun mode runs it) on the two-namespace testbed under mixed
 * traffic — iperf3 TCP (2 streams, alternating direction), small UDP datagrams (iperf3, 64 B at 8 Mbit/s) and
 * pings (20 a second), all at once — with each forwarder's resident size (/proc/<pid>/status VmRSS, the whole
 * process with all its threads) sampled every --interval seconds. Writes bench/results/rss-soak-<time>.json
 * (every sample, the traffic that crossed, each forwarder's summary) and prints a table; exits 1 when a forwarder
 * is over 150 MB or still growing after the warm-up (the definitions are in bench/metrics/rss.ts).
 *   sudo node dist/bench/rss-soak.js [--duration 300] [--interval 5] [--out bench/results]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { runProgram } from '../control/log.js';
import { VxtunError } from '../dataplane/errors.js';
import { peakRssBytes, rssBytes } from './metrics/cpu.js';
import { parseIperfTcp, parseIperfUdp } from './metrics/iperf.js';
import { parsePing } from './metrics/latency.js';
import { FLAT_GROWTH_PCT, RSS_BUDGET_MB, summarizeRss, warmupSeconds, type RssSummary } from './metrics/rss.js';
import { setUpMode } from './modes.js';
import { createTestbed, type HostName, type Testbed } from './testbed/netns.js';
import type { TrackedProcess } from './testbed/process.js';
import { repoRoot } from './testbed/vxtun.js';

const TCP_PORT = 5201;
const UDP_PORT = 5202;
/** The longest single traffic run; the loops start a new one until the soak's time is up. */
const CHUNK_S = 30;
const HOSTS: readonly HostName[] = ['a', 'b'];

interface Sample {
  readonly t: number;
  readonly mb: Record<HostName, number>;
}

interface Traffic {
  tcpBytes: number;
  tcpRuns: number;
  udpPackets: number;
  pingsSent: number;
  pingsAnswered: number;
  /** iperf3 runs refused while their server reopened its listener between runs (tried again, not failures). */
  refused: number;
  failures: string[];
}

const program = new Command('rss-soak')
  .description("vxtun static under mixed traffic; samples both forwarders' RSS and says whether it stays flat")
  .option('--duration <seconds>', 'how long the traffic runs (at most 7200)', '300')
  .option('--interval <seconds>', 'seconds between RSS samples', '5')
  .option('--out <dir>', 'where to write rss-soak-<time>.json (default: bench/results)')
  .action(async (raw: { duration: string; interval: string; out?: string }) => {
    const durationS = bounded(raw.duration, '--duration', 5, 7200);
    const intervalS = bounded(raw.interval, '--interval', 1, 60);
    await soak(durationS, intervalS, raw.out ?? join(repoRoot(), 'bench', 'results'));
  });

function bounded(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

async function soak(durationS: number, intervalS: number, outDir: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new VxtunError('VXTUN_ERR_PERMISSION', 'the soak creates network namespaces: run it as root');
  const startedAt = new Date();
  const tb = await createTestbed();
  const session = await setUpMode('vxtun', tb);
  const samples: Sample[] = [];
  const traffic: Traffic = { tcpBytes: 0, tcpRuns: 0, udpPackets: 0, pingsSent: 0, pingsAnswered: 0, refused: 0, failures: [] };
  let hwm: Partial<Record<HostName, number>> = {};
  try {
    const [pidA, pidB] = session.forwarderPids;
    const pids: Record<HostName, number> = { a: pidA, b: pidB };
    const server = session.address.b;
    const servers = await startServers(tb, server);
    try {
      const t0 = Date.now();
      const deadline = t0 + durationS * 1000;
      await Promise.all([
        sampleRss(pids, t0, deadline, intervalS, samples, session.health),
        tcpLoop(tb, server, deadline, traffic),
        udpLoop(tb, server, deadline, traffic),
        pingLoop(tb, server, deadline, traffic),
      ]);
      hwm = Object.fromEntries(HOSTS.map((h) => [h, (peakRssBytes(pids[h]) ?? Number.NaN) / 1e6]));
    } finally {
      await Promise.all(servers.map((s) => s.stop(1000)));
    }
  } finally {
    await session.teardown();
    await tb.destroy();
  }
  const warmupS = warmupSeconds(durationS);
  const forwarders = Object.fromEntries(
    HOSTS.map((h) => [
      h,
      summarizeRss(
        samples.map((s) => ({ t: s.t, mb: s.mb[h] })),
        warmupS,
        Number.isFinite(hwm[h]) ? hwm[h] : undefined,
      ),
    ]),
  ) as Record<HostName, RssSummary>;
  const flat = HOSTS.every((h) => forwarders[h].flat);
  const withinBudget = HOSTS.every((h) => forwarders[h].withinBudget);
  // A soak without load proves nothing: every kind of traffic must have crossed, and no run may have failed.
  const trafficOk = traffic.failures.length === 0 && traffic.tcpBytes > 0 && traffic.udpPackets > 0 && traffic.pingsAnswered > 0;
  const result = {
    startedAt: startedAt.toISOString(),
    commit: gitCommit(),
    command: `node dist/bench/rss-soak.js --duration ${durationS} --interval ${intervalS}`,
    machine: `Linux ${release()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`,
    options: { durationS, intervalS },
    definitions: {
      warmupS,
      flat:
        `after a ${warmupS} s warm-up, the largest sample of the second half is less than ${FLAT_GROWTH_PCT} % above ` +
        'the largest of the first half',
      budgetMb: RSS_BUDGET_MB,
      mb: '10^6 bytes',
    },
    traffic,
    samples,
    forwarders,
    verdict: flat ? 'flat' : 'growing',
    withinBudget,
    trafficOk,
  };
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `rss-soak-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(table(forwarders, traffic, durationS, samples.length));
  process.stdout.write(
    `verdict: ${result.verdict} (${result.definitions.flat}), ${withinBudget ? 'within' : 'OVER'} ${RSS_BUDGET_MB} MB; wrote ${file}\n`,
  );
  if (!trafficOk) process.stdout.write('the traffic did not all run (see traffic.failures in the JSON): the soak proves nothing\n');
  process.exitCode = flat && withinBudget && trafficOk ? 0 : 1;
}

/** One sample now, then every intervalS until the deadline; stops early (with an error) if a forwarder died. */
async function sampleRss(
  pids: Record<HostName, number>,
  t0: number,
  deadline: number,
  intervalS: number,
  samples: Sample[],
  health: () => string | undefined,
): Promise<void> {
  const count = Math.floor((deadline - t0) / (intervalS * 1000)) + 1;
  for (let i = 0; i < count; i++) {
    await sleep(Math.max(0, t0 + i * intervalS * 1000 - Date.now()));
    const a = rssBytes(pids.a);
    const b = rssBytes(pids.b);
    if (a === undefined || b === undefined) {
      throw new VxtunError('VXTUN_ERR_BENCH', `a forwarder exited during the soak: ${health() ?? 'no reason logged'}`);
    }
    samples.push({ t: (Date.now() - t0) / 1000, mb: { a: a / 1e6, b: b / 1e6 } });
  }
}

/** Runs `run(seconds)` back to back until the deadline; each run is at most CHUNK_S and the loop at most 10,000 runs. */
async function untilDeadline(deadline: number, run: (seconds: number, round: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    const seconds = Math.min(CHUNK_S, Math.floor((deadline - Date.now()) / 1000));
    if (seconds < 1) return;
    await run(seconds, round);
  }
}

function tcpLoop(tb: Testbed, server: string, deadline: number, traffic: Traffic): Promise<void> {
  return untilDeadline(deadline, async (seconds, round) => {
    const argv = ['iperf3', '-J', '-c', server, '-p', String(TCP_PORT), '-t', String(seconds), '-P', '2', '--connect-timeout', '3000'];
    const json = await iperf(tb, round % 2 === 1 ? [...argv, '-R'] : argv, seconds, traffic);
    if (json === undefined) return;
    traffic.tcpBytes += parseIperfTcp(json).bytes;
    traffic.tcpRuns++;
  });
}

function udpLoop(tb: Testbed, server: string, deadline: number, traffic: Traffic): Promise<void> {
  return untilDeadline(deadline, async (seconds) => {
    const argv = ['iperf3', '-J', '-c', server, '-p', String(UDP_PORT), '-t', String(seconds), '-u', '-l', '64', '-b', '8M'];
    const json = await iperf(tb, argv, seconds, traffic);
    if (json !== undefined) traffic.udpPackets += Math.round(parseIperfUdp(json).receivedBytes / 64);
  });
}

function pingLoop(tb: Testbed, server: string, deadline: number, traffic: Traffic): Promise<void> {
  return untilDeadline(deadline, async (seconds) => {
    const out = await tb.exec('a', ['ping', '-i', '0.05', '-w', String(seconds), server], {
      timeoutMs: (seconds + 10) * 1000,
      allowFail: true,
    });
    try {
      const ping = parsePing(out.stdout);
      traffic.pingsSent += ping.transmitted;
      traffic.pingsAnswered += ping.received;
    } catch (err) {
      traffic.failures.push(String(err));
      await sleep(1000);
    }
  });
}

/** One iperf3 client run; a failure is recorded (and the loop goes on after a second) instead of ending the soak. */
async function iperf(tb: Testbed, argv: string[], seconds: number, traffic: Traffic): Promise<string | undefined> {
  const out = await tb.exec('a', argv, { timeoutMs: (seconds + 20) * 1000, allowFail: true });
  if (out.code === 0) return out.stdout;
  // The same race as bench/metrics/iperf.ts: the server listens again a moment after the previous run.
  if (out.stdout.includes('unable to connect to server: Connection refused')) {
    traffic.refused++;
    await sleep(1000);
    return undefined;
  }
  traffic.failures.push(`${argv.join(' ')}: ${(out.stdout + out.stderr).trim().slice(-300)}`);
  await sleep(1000);
  return undefined;
}

async function startServers(tb: Testbed, address: string): Promise<TrackedProcess[]> {
  const servers = [TCP_PORT, UDP_PORT].map((port) => tb.spawn('b', ['iperf3', '-s', '-B', address, '-p', String(port)]));
  for (let i = 0; i < 100; i++) {
    const { stdout } = await tb.exec('b', ['ss', '-Hlnt'], { allowFail: true });
    if (stdout.includes(`:${TCP_PORT}`) && stdout.includes(`:${UDP_PORT}`)) return servers;
    await sleep(50);
  }
  await Promise.all(servers.map((s) => s.stop(1000)));
  throw new VxtunError('VXTUN_ERR_BENCH', `iperf3 servers did not start on ${address}`);
}

function table(forwarders: Record<HostName, RssSummary>, traffic: Traffic, durationS: number, count: number): string {
  const f = (n: number | undefined): string => (n === undefined ? '–' : n.toFixed(1));
  const lines = [
    `RSS of vxtun static over ${durationS} s, ${count} samples (MB = 10^6 bytes)`,
    'forwarder | start | peak | VmHWM | peak 1st half | peak 2nd half | end | growth | slope MB/min | verdict',
  ];
  for (const h of HOSTS) {
    const s = forwarders[h];
    lines.push(
      `host ${h}    | ${f(s.startMb)} | ${f(s.peakMb)} | ${f(s.hwmMb)} | ${f(s.earlyPeakMb)} | ${f(s.latePeakMb)} | ${f(s.endMb)} | ` +
        `${s.growthPct.toFixed(1)} % | ${s.slopeMbPerMin.toFixed(2)} | ${s.flat ? 'flat' : 'growing'}`,
    );
  }
  lines.push(
    `traffic: ${(traffic.tcpBytes / 1e9).toFixed(2)} GB TCP in ${traffic.tcpRuns} runs, ${traffic.udpPackets} small UDP datagrams, ` +
      `${traffic.pingsAnswered}/${traffic.pingsSent} pings answered, ${traffic.refused} iperf3 runs refused and retried, ${traffic.failures.length} failed`,
  );
  return `${lines.join('\n')}\n`;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['-C', repoRoot(), 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

await runProgram(program);
