import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { metricInfo, type MetricGroup } from './catalog.js';
import { setUpMode, type ModeName } from './modes.js';
import { collectFailures, evaluateTargets, summarizeRuns, type BenchResult, type RunRecord } from './result.js';
import { measureSession } from './session.js';
import { createTestbed, type Testbed } from './testbed/netns.js';
import { WAN_METHOD, describeWan, type WanOptions } from './testbed/wan.js';
import type { OffloadProfile } from './testbed/offloads.js';
import { overlayMtu } from './testbed/overlay.js';
import { repoRoot } from './testbed/vxtun.js';
import { formatValue } from './report/format.js';

export interface BenchOptions {
  readonly durationS: number;
  readonly repetitions: number;
  readonly modes: readonly ModeName[];
  readonly metrics: readonly MetricGroup[];
  readonly mtu: number;
  readonly profile: OffloadProfile;
  readonly wan?: WanOptions;
  /** Queue workers per vxtun host (default: one per core). */
  readonly vxtunWorkers?: number;
}

/**
 * One testbed for the whole run; repetitions are interleaved (rep 1: every mode, rep 2: every mode, …) so slow
 * drift of the machine (other load, thermal state) spreads over all modes instead of favouring one.
 * A mode that fails to set up is recorded with its reason and the next mode runs.
 */
export async function runBench(opts: BenchOptions, log: (line: string) => void): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  // Other work on the machine skews every mode; the load average at the start shows how much there was.
  const loadAtStart = loadavg();
  const { commit, dirty } = gitState();
  const tb = await createTestbed({ mtu: opts.mtu, offloadProfile: opts.profile, ...(opts.wan ? { wan: opts.wan } : {}) });
  const runs: RunRecord[] = [];
  const modeDetails: Partial<Record<ModeName, string>> = {};
  try {
    log(
      `testbed ${tb.prefix}: ${tb.hosts.a.netns} ${tb.hosts.a.underlayIp} <-veth-> ${tb.hosts.b.netns} ` +
        `${tb.hosts.b.underlayIp}, MTU ${tb.mtu}, offloads ${opts.profile}`,
    );
    if (opts.wan) log(`WAN: ${describeWan(opts.wan)}, made by ${WAN_METHOD}`);
    for (let rep = 1; rep <= opts.repetitions; rep++) {
      for (const mode of opts.modes) {
        const tag = `[rep ${rep}/${opts.repetitions}] ${mode}`;
        let session;
        try {
          checkWanRelay(tb);
          session = await setUpMode(mode, tb, opts.vxtunWorkers === undefined ? {} : { workers: opts.vxtunWorkers });
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          log(`${tag}: FAILED to set up: ${error}`);
          runs.push({ rep, mode, error, samples: {}, errors: {} });
          continue;
        }
        if (session.details !== undefined && modeDetails[mode] === undefined) {
          modeDetails[mode] = session.details;
          log(`${tag}: ${session.details}`);
        }
        try {
          const measured = await measureSession(tb, session, {
            metrics: opts.metrics,
            durationS: opts.durationS,
            onSample: (id, value, error) => {
              const info = metricInfo(id);
              log(
                value === undefined
                  ? `${tag} ${info.label}: failed: ${error ?? ''}`
                  : `${tag} ${info.label}: ${formatValue(value)} ${info.unit}`,
              );
            },
          });
          runs.push({ rep, mode, ...measured });
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          log(`${tag}: FAILED: ${error}`);
          runs.push({ rep, mode, error, samples: {}, errors: {} });
        } finally {
          await session.teardown();
        }
      }
    }
    // The relay's counts are a note on the run; without them (a relay that died) the measurements still stand.
    let relayError: string | undefined;
    const relayCounts = await tb.stopWan().catch((err: unknown) => {
      relayError = `WAN relay: ${err instanceof Error ? err.message : String(err)}`;
      return undefined;
    });
    const congestion = await tb.exec('a', ['cat', '/proc/sys/net/ipv4/tcp_congestion_control'], { allowFail: true });
    const summary = summarizeRuns(runs, opts.modes);
    return {
      schema: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      commit,
      dirty,
      machine: {
        kernel: release(),
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadAverage: { start: loadAtStart, end: loadavg() },
      },
      options: { ...opts },
      testbed: {
        underlayMtu: tb.mtu,
        overlayMtu: overlayMtu(tb),
        profile: opts.profile,
        ...(congestion.code === 0 ? { tcpCongestionControl: congestion.stdout.trim() } : {}),
        ...(opts.wan ? { wan: { ...opts.wan, method: WAN_METHOD, ...(relayCounts ? { relay: relayCounts } : {}) } } : {}),
        offloads: { a: { ...tb.offloadState.a }, b: { ...tb.offloadState.b } },
      },
      modes: opts.modes,
      modeDetails,
      runs,
      summary,
      targets: evaluateTargets(summary),
      failures: [...collectFailures(runs), ...(relayError === undefined ? [] : [relayError])],
    };
  } finally {
    await tb.destroy();
  }
}

/** A WAN relay that died takes every later measurement with it: say so instead of timing out in each mode. */
function checkWanRelay(tb: Testbed): void {
  const relay = tb.wanRelay;
  if (relay !== undefined && relay.child.exitCode !== null) {
    throw new Error(`the WAN relay exited (${relay.child.exitCode}): ${relay.output().trim().slice(-400)}`);
  }
}

function gitState(): { commit: string; dirty: boolean } {
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', repoRoot(), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}
