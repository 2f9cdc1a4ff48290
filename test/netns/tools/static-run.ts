/**
 * `vxtun static` on a testbed host from a config file the test owns: the test can rewrite it and send SIGHUP,
 * or start the forwarder again on the same state directory. Log lines are parsed as the JSON pino writes.
 */
import { writeFileSync } from 'node:fs';
import type { HostName, Testbed } from '../../../bench/testbed/index.js';
import { CLI, waitFor, type FinalStats } from '../harness.js';

export type LogLine = Record<string, unknown> & { msg: string };

export interface StaticRun {
  readonly pid: number;
  output(): string;
  /** Every log line whose msg starts with `msg`, oldest first. */
  logs(msg: string): LogLine[];
  /** Waits until at least `count` lines starting with `msg` were logged; returns the last. */
  waitForLog(msg: string, count?: number, timeoutMs?: number): Promise<LogLine>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, wait (SIGKILL after 5 s), return the "final stats"; throws when the exit was not clean. */
  stop(): Promise<FinalStats>;
}

export function writeConfig(file: string, config: object): void {
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** Starts `vxtun static --config <file>` in the host's namespace; resolves once it logged "vxtun static running". */
export async function runStaticFile(tb: Testbed, host: HostName, file: string, extraArgs: string[] = []): Promise<StaticRun> {
  const proc = tb.spawn(host, [process.execPath, CLI, 'static', '--config', file, ...extraArgs]);
  let exitCode: number | string | null = null;
  void proc.exited.then((c) => { exitCode = c; });
  const logs = (msg: string): LogLine[] => proc.output().split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => { try { return JSON.parse(l) as LogLine; } catch { return null; } })
    .filter((l): l is LogLine => l !== null && typeof l.msg === 'string' && l.msg.startsWith(msg));
  const waitForLog = async (msg: string, count = 1, timeoutMs = 10_000): Promise<LogLine> => {
    await waitFor(() => logs(msg).length >= count || exitCode !== null, timeoutMs, `"${msg}" in the vxtun log`)
      .catch((err: Error) => { throw new Error(`${err.message}:\n${proc.output()}`); });
    const found = logs(msg);
    if (found.length < count) throw new Error(`vxtun exited (${exitCode}) before logging "${msg}":\n${proc.output()}`);
    return found[found.length - 1];
  };
  try {
    await waitForLog('vxtun static running', 1, 20_000);
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  return {
    pid: proc.pid,
    output: () => proc.output(),
    logs,
    waitForLog,
    signal: (sig) => { process.kill(proc.pid, sig); },
    async stop() {
      await proc.stop(5000);
      const code = await proc.exited;
      const final = logs('final stats').pop();
      if (code !== 0 || !final) throw new Error(`vxtun static exited with ${code}:\n${proc.output()}`);
      return final.stats as FinalStats;
    },
  };
}
