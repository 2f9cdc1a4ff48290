import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VxtunError } from '../../dataplane/errors.js';
import type { HostName, Testbed } from './netns.js';
import { OVERLAY_NETWORK, type OverlayPeer } from './overlay.js';
import { sleep, type TrackedProcess } from './process.js';

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
  /** How long to wait for the "dataplane started" log line (default 20 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningVxtun {
  readonly pid: number;
  readonly config: VxtunStaticConfig;
  readonly process: TrackedProcess;
  /** Everything the forwarder logged so far. */
  output(): string;
  /** SIGTERM, SIGKILL after graceMs (default 5 s); removes the temporary config directory. */
  stop(graceMs?: number): Promise<void>;
}

const READY_MESSAGE = '"msg":"dataplane started"';

/** Runs `node dist/control/cli.js static --config <file>` inside the host's namespace and waits until it is ready. */
export async function startVxtun(tb: Testbed, host: HostName, opts: StartVxtunOptions): Promise<RunningVxtun> {
  const cli = join(repoRoot(), 'dist', 'control', 'cli.js');
  if (!existsSync(cli)) {
    throw new VxtunError('VXTUN_ERR_BENCH', `${cli} does not exist: build vxtun first with \`npm run build\``);
  }
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
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, `${JSON.stringify({ ...config, ...opts.extraConfig }, null, 2)}\n`);
  const proc = tb.spawn(host, [process.execPath, cli, 'static', '--config', configPath, ...(opts.extraArgs ?? [])]);
  const stop = async (graceMs = 5000): Promise<void> => {
    await proc.stop(graceMs);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForReady(proc, opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await stop(1000);
    throw err;
  }
  return { pid: proc.pid, config, process: proc, output: proc.output, stop };
}

async function waitForReady(proc: TrackedProcess, timeoutMs: number): Promise<void> {
  let exited: number | string | undefined;
  void proc.exited.then((code) => (exited = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.output().includes(READY_MESSAGE)) return;
    if (exited !== undefined) {
      throw new VxtunError('VXTUN_ERR_BENCH', `vxtun exited (${exited}) before it was ready: ${tail(proc.output())}`);
    }
    await sleep(50);
  }
  throw new VxtunError(
    'VXTUN_ERR_BENCH',
    `vxtun did not log "dataplane started" within ${timeoutMs} ms: ${tail(proc.output())}`,
  );
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed === '' ? '(no output)' : trimmed.slice(-1500);
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
