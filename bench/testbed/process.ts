import { execFile, spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { VxtunError } from '../../dataplane/errors.js';

/** Output of a finished command. `code` is null when the command was killed (time limit). */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s): no command in the testbed may hang the run. */
  readonly timeoutMs?: number;
  /** Resolve with the result instead of rejecting when the command exits non-zero or is killed. */
  readonly allowFail?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Runs argv to completion with a time limit; rejects with VXTUN_ERR_TESTBED and the command's stderr on failure. */
export function run(argv: readonly string[], opts: ExecOptions = {}, track?: Set<number>): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'run() needs a command');
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // While it runs, the child's PID sits in `track`, so an interrupted run can still kill it.
    const child = execFile(file, args, { timeout, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES }, (err, stdout, stderr) => {
      if (child.pid !== undefined) track?.delete(child.pid);
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      const result: ExecResult = { stdout, stderr, code };
      if (code === 0 || opts.allowFail === true) return resolve(result);
      const why = code === null ? `was killed after ${timeout} ms` : `exited with ${code}`;
      reject(
        new VxtunError('VXTUN_ERR_TESTBED', `\`${argv.join(' ')}\` ${why}: ${stderr.trim() || stdout.trim()}`, {
          cause: err,
        }),
      );
    });
    if (child.pid !== undefined) track?.add(child.pid);
  });
}

/** A long-running child (server, forwarder) in its own process group, so stopping it also stops what it started. */
export interface TrackedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Everything the process wrote so far (stdout and stderr interleaved, capped at the last 256 KB). */
  output(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_CAP = 256 * 1024;

export function spawnTracked(argv: readonly string[], onExit: (pid: number) => void): TrackedProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', 'spawn() needs a command');
  const child = spawnChild(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    throw new VxtunError('VXTUN_ERR_TESTBED', `could not start \`${argv.join(' ')}\`: is ${file} installed?`);
  }
  const pid = child.pid;
  let buffered = '';
  const append = (chunk: Buffer): void => {
    buffered += chunk.toString('utf8');
    if (buffered.length > OUTPUT_CAP) buffered = buffered.slice(buffered.length - OUTPUT_CAP);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      onExit(pid);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      append(Buffer.from(`${err.message}\n`));
    });
  });
  const stop = async (graceMs = 3000): Promise<void> => {
    if (done) return;
    killGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { pid, child, exited, output: () => buffered, stop };
}

/** Signals the process group led by pid; a group that is already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already exited
    }
  }
}
