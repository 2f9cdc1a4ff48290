/**
 * Containers as network namespaces, attached to the overlay through the `vxtun` CNI plugin exactly as a runtime
 * does it: the plugin installed with `vxtun cni install` into a bin dir, run inside the host's namespace with only
 * the CNI_* variables and PATH in its environment, the network config on stdin, CNI_PATH = that bin dir then
 * Debian's /usr/lib/cni (bridge, host-local). Shared by the demo and the namespace tests; close() (or, from a
 * signal handler, removeNow()) deletes every namespace, process and file it made.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './testbed/vxtun.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { killGroup, run, spawnTracked, type ExecOptions, type ExecResult, type TrackedProcess } from './testbed/process.js';

export const DEBIAN_CNI_DIR = '/usr/lib/cni';
const TRAFFIC = join(repoRoot(), 'bench', 'testbed', 'traffic');

export interface Container {
  /** CNI_CONTAINERID. */
  readonly id: string;
  readonly netns: string;
  /** CNI_NETNS. */
  readonly path: string;
}

export interface CniCall {
  readonly command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS';
  /** The network namespace the plugin runs in (the host's, as a runtime runs plugins in its own). */
  readonly hostNetns: string;
  readonly container: { readonly id: string; readonly path?: string };
  /** The config on stdin: an object (JSON-encoded) or raw text. */
  readonly config: unknown;
  readonly ifName?: string;
  /** Variables to add, or (value undefined) to leave out, e.g. `{ CNI_NETNS: undefined }`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface CniAnswer {
  /** The plugin's exit status (null: killed at the time limit). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, when it is. */
  readonly json: Record<string, unknown> | undefined;
}

export class CniRuntime {
  readonly dir: string;
  readonly binDir: string;
  readonly plugin: string;
  private readonly prefix: string;
  private readonly containers = new Set<string>();
  private readonly procs = new Set<TrackedProcess>();
  private calls = 0;

  private constructor(prefix: string, dir: string) {
    this.prefix = prefix;
    this.dir = dir;
    this.binDir = join(dir, 'bin');
    this.plugin = join(this.binDir, 'vxtun');
  }

  /** A work directory and the plugin installed into `<dir>/bin` by `vxtun cni install --bin-dir`. */
  static async create(prefix: string, cli = join(repoRoot(), 'dist', 'control', 'cli.js')): Promise<CniRuntime> {
    const rt = new CniRuntime(prefix, mkdtempSync(join(tmpdir(), `vxtun-cni-${prefix}-`)));
    try {
      await run(['node', cli, 'cni', 'install', '--bin-dir', rt.binDir, '--log-level', 'error']);
    } catch (err) {
      rt.removeNow();
      throw err;
    }
    return rt;
  }

  /** A new, empty network namespace `<prefix><name>` standing for a container. */
  async container(name: string, id = `${this.prefix}-${name}`): Promise<Container> {
    const netns = `${this.prefix}${name}`;
    await run(['ip', 'netns', 'add', netns]);
    this.containers.add(netns);
    await run(['ip', 'netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    return { id, netns, path: `/run/netns/${netns}` };
  }

  async removeContainer(c: Container): Promise<void> {
    await run(['ip', 'netns', 'del', c.netns], { allowFail: true });
    this.containers.delete(c.netns);
  }

  /** Runs the plugin once, as a runtime does; never rejects (the answer carries the exit status). */
  async call(c: CniCall): Promise<CniAnswer> {
    const input = join(this.dir, `call-${++this.calls}.json`);
    writeFileSync(input, typeof c.config === 'string' ? c.config : JSON.stringify(c.config));
    const vars: Record<string, string | undefined> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: c.command,
      CNI_CONTAINERID: c.container.id,
      CNI_NETNS: c.container.path,
      CNI_IFNAME: c.ifName ?? 'eth0',
      CNI_PATH: `${this.binDir}:${DEBIAN_CNI_DIR}`,
      ...c.env,
    };
    const env = Object.entries(vars)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const r = await run(['ip', 'netns', 'exec', c.hostNetns, 'env', '-i', ...env, 'sh', '-c', 'exec "$0" < "$1"', this.plugin, input], {
      allowFail: true,
      timeoutMs: 30_000,
    });
    rmSync(input, { force: true });
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(r.stdout) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, json };
  }

  exec(c: Container, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(['ip', 'netns', 'exec', c.netns, ...argv], opts);
  }

  /** ping -c count from a container; the number of replies. */
  async ping(from: Container, addr: string, count = 3): Promise<number> {
    const r = await this.exec(from, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', addr], { timeoutMs: 20_000, allowFail: true });
    const m = /(\d+) (?:packets )?received/.exec(r.stdout);
    return m ? Number(m[1]) : 0;
  }

  /** `bytes` random bytes over TCP from one container to an address of another; both ends' {bytes, sha256}. */
  async transfer(from: Container, to: Container, toAddr: string, bytes: number, port = 5401, timeoutMs = 60_000) {
    const sink = spawnTracked(
      [
        'ip',
        'netns',
        'exec',
        to.netns,
        'node',
        join(TRAFFIC, 'tcp-sink.mjs'),
        toAddr.includes(':') ? '::' : '0.0.0.0',
        String(port),
        String(timeoutMs),
      ],
      () => undefined,
    );
    this.procs.add(sink);
    try {
      for (let i = 0; i < 200 && !sink.output().includes('listening'); i++) await sleep(50);
      const src = await this.exec(from, ['node', join(TRAFFIC, 'tcp-source.mjs'), toAddr, String(port), String(bytes), String(timeoutMs)], {
        timeoutMs: timeoutMs + 5_000,
      });
      await Promise.race([sink.exited, sleep(10_000)]);
      const line = sink
        .output()
        .split('\n')
        .find((l) => l.startsWith('{'));
      return {
        sent: JSON.parse(src.stdout.trim()) as { bytes: number; sha256: string },
        received: line ? (JSON.parse(line) as { bytes: number; sha256: string }) : undefined,
      };
    } finally {
      await sink.stop(1_000);
      this.procs.delete(sink);
    }
  }

  /** Deletes the container namespaces and the work directory. */
  async close(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop(1_000)));
    this.removeNow();
  }

  /** Synchronous, for signal handlers. */
  removeNow(): void {
    for (const p of this.procs) killGroup(p.pid, 'SIGKILL');
    this.procs.clear();
    for (const netns of this.containers) {
      try {
        execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // already gone
      }
    }
    this.containers.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
