import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from './netns.js';
import { OVERLAY_NETWORK, type OverlayPeer } from './overlay.js';
import { killGroup, type TrackedProcess } from './process.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** The JSON file `vxtun static --config` reads. */
export interface VxtunStaticConfig {
  readonly vni: number;
  readonly port: number;
  readonly publicIp: string;
  readonly subnet: string;
  readonly network: string;
  readonly vtepMac: string;
  readonly stateDir: string;
  readonly peers: readonly OverlayPeer[];
}

export interface StartVxtunOptions {
  readonly subnet: string;
  readonly vtepMac: string;
  readonly peers: readonly OverlayPeer[];
  readonly vni?: number;
  readonly port?: number;
  /** Default: the host's underlay address. */
  readonly publicIp?: string;
  readonly network?: string;
  /** Default: a fresh directory beside the config file, removed by stop(). */
  readonly stateDir?: string;
  /** More config fields (e.g. `workers`, `offloads`), written into the file as given. */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
  /** Extra command-line arguments after `static --config <file>`. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for readiness (default 20 s). */
  readonly readyTimeoutMs?: number;
}

/** A JSON log line of vxtun (pino). */
export type LogLine = Record<string, unknown> & { msg: string };

/** The counters vxtun logs on exit ("final stats"): every counter by name, and drops by reason (non-zero only). */
export type FinalStats = Record<string, number> & { drops: Record<string, number> };

/**
 * A running `vxtun static`: the one launcher the benchmark, the demo's tests and the namespace tests share.
 * Readiness is the "vxtun static running" line (dataplane up and peers set).
 */
export interface RunningVxtun {
  readonly pid: number;
  readonly process: TrackedProcess;
  /** The config file it was started with (rewrite it and send SIGHUP to reload the peers). */
  readonly configFile: string;
  /** Everything the forwarder wrote so far (capped at the last 256 KB). */
  output(): string;
  /** Every JSON log line whose msg starts with `msg`, oldest first (kept whole, never capped). */
  logs(msg: string): LogLine[];
  /** Waits until at least `count` lines starting with `msg` were logged; returns the last of them. */
  waitForLog(msg: string, count?: number, timeoutMs?: number): Promise<LogLine>;
  signal(sig: NodeJS.Signals): void;
  /**
   * SIGTERM, SIGKILL after graceMs (default 5 s); removes the directory the launcher created. Resolves with the
   * "final stats" once the exit was clean (status 0 and the stats logged), rejects with the output otherwise.
   */
  stop(graceMs?: number): Promise<FinalStats>;
}

export interface LaunchOptions {
  /** Extra command-line arguments after `static --config <file>`. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for readiness (default 20 s). */
  readonly readyTimeoutMs?: number;
  /** Removed by stop() (or when the start fails): the temporary directory holding the config. */
  readonly ownedDir?: string;
}

const READY_MESSAGE = 'vxtun static running';

/** Runs `node dist/control/cli.js static --config <file>` inside the host's namespace and waits until it is ready. */
export async function launchStatic(tb: Testbed, host: HostName, configFile: string, opts: LaunchOptions = {}): Promise<RunningVxtun> {
  const cli = join(repoRoot(), 'dist', 'control', 'cli.js');
  if (!existsSync(cli)) {
    throw new VxtunError('VXTUN_ERR_BENCH', `${cli} does not exist: build vxtun first with \`npm run build\``);
  }
  const proc = tb.spawn(host, [process.execPath, cli, 'static', '--config', configFile, ...(opts.extraArgs ?? [])]);
  const lines: LogLine[] = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      const line = parseLogLine(l);
      if (line !== undefined) lines.push(line);
    }
  });
  let exitCode: number | string | undefined;
  void proc.exited.then((code) => (exitCode = code));
  const logs = (msg: string): LogLine[] => lines.filter((l) => l.msg.startsWith(msg));
  const waitForLog = async (msg: string, count = 1, timeoutMs = 10_000): Promise<LogLine> => {
    const deadline = Date.now() + timeoutMs;
    while (logs(msg).length < count) {
      if (exitCode !== undefined) {
        throw new VxtunError('VXTUN_ERR_BENCH', `vxtun exited (${exitCode}) before it logged "${msg}": ${tail(proc.output())}`);
      }
      if (Date.now() > deadline) {
        throw new VxtunError('VXTUN_ERR_BENCH', `vxtun did not log "${msg}" within ${timeoutMs} ms: ${tail(proc.output())}`);
      }
      await sleep(50);
    }
    const found = logs(msg);
    return found[found.length - 1];
  };
  const removeDir = (): void => {
    if (opts.ownedDir !== undefined) rmSync(opts.ownedDir, { recursive: true, force: true });
  };
  const stop = async (graceMs = 5000): Promise<FinalStats> => {
    await proc.stop(graceMs);
    const code = await proc.exited;
    removeDir();
    const final = logs('final stats').pop();
    if (code !== 0 || final === undefined) {
      throw new VxtunError('VXTUN_ERR_BENCH', `vxtun static exited with ${code}: ${tail(proc.output())}`);
    }
    return final.stats as FinalStats;
  };
  try {
    await waitForLog(READY_MESSAGE, 1, opts.readyTimeoutMs ?? 20_000).catch((err: VxtunError) => {
      throw new VxtunError('VXTUN_ERR_BENCH', err.message.replace(`before it logged "${READY_MESSAGE}"`, 'before it was ready'));
    });
  } catch (err) {
    await proc.stop(1000);
    removeDir();
    throw err;
  }
  return {
    pid: proc.pid,
    process: proc,
    configFile,
    output: proc.output,
    logs,
    waitForLog,
    signal: (sig) => killGroup(proc.pid, sig),
    stop,
  };
}

function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    return typeof o.msg === 'string' ? (o as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a config object as the JSON file `vxtun static --config` reads. */
export function writeStaticConfig(file: string, config: object): void {
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** Writes the config for the given plan into a fresh directory and launches vxtun static with it. */
export async function startVxtun(
  tb: Testbed,
  host: HostName,
  opts: StartVxtunOptions,
): Promise<RunningVxtun & { readonly config: VxtunStaticConfig }> {
  const dir = mkdtempSync(join(tmpdir(), `vxtun-${tb.prefix}${host}-`));
  const config: VxtunStaticConfig = {
    vni: opts.vni ?? 1,
    port: opts.port ?? 8472,
    publicIp: opts.publicIp ?? tb.hosts[host].underlayIp,
    subnet: opts.subnet,
    network: opts.network ?? OVERLAY_NETWORK,
    vtepMac: opts.vtepMac,
    stateDir: opts.stateDir ?? join(dir, 'state'),
    peers: opts.peers,
  };
  const configFile = join(dir, 'config.json');
  writeStaticConfig(configFile, { ...config, ...opts.extraConfig });
  const running = await launchStatic(tb, host, configFile, {
    extraArgs: opts.extraArgs,
    readyTimeoutMs: opts.readyTimeoutMs,
    ownedDir: dir,
  });
  return { ...running, config };
}

/** The last part of a process's output for an error message, or a note that it printed nothing. */
export function tail(text: string, chars = 1500): string {
  const trimmed = text.trim();
  return trimmed === '' ? '(no output)' : trimmed.slice(-chars);
}

/** The directory holding vxtun's package.json, found from this file whether it runs from source or from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'vxtun') {
      return dir;
    }
    dir = dirname(dir);
  }
  throw new VxtunError('VXTUN_ERR_BENCH', 'cannot find the vxtun package root above bench/testbed');
}
