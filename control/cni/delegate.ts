/**
 * Running a delegate plugin as the spec says (SPEC.md §4): found by name in CNI_PATH, given this process's
 * environment with CNI_COMMAND set, the complete config on stdin; its stdout is its result or its error JSON,
 * its stderr is passed through to ours.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from './errors.js';

export function findPlugin(type: string, cniPath: string): string {
  if (type.includes('/')) throw new CniError(CniCode.INVALID_CONFIG, `delegate type "${type}" must be a plugin name, not a path`);
  const dirs = cniPath.split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    const file = join(dir, type);
    try {
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      // not in this directory
    }
  }
  throw new CniError(
    CniCode.INVALID_ENV,
    `the delegate plugin "${type}" is not in CNI_PATH (${dirs.join(':') || 'empty'}): ` +
      "install Debian's containernetworking-plugins (/usr/lib/cni) and include its directory in the runtime's CNI bin dirs",
  );
}

/** Runs the delegate; resolves with its stdout on success, rejects with its own CNI error (code kept) otherwise. */
export function runDelegate(command: string, config: Record<string, unknown>, cniPath: string, env: NodeJS.ProcessEnv): Promise<string> {
  const type = String(config.type);
  const file = findPlugin(type, cniPath);
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      process.stderr.write(d);
    });
    child.stdin.on('error', () => {
      /* the delegate may exit without reading; its exit status says why */
    });
    child.on('error', (err) => reject(new CniError(CniCode.INTERNAL, `cannot run the delegate ${file}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(stdout);
      reject(delegateError(type, command, stdout, stderr, code === null ? `signal ${signal}` : `exit status ${code}`));
    });
    child.stdin.end(JSON.stringify(config));
  });
}

function delegateError(type: string, command: string, stdout: string, stderr: string, how: string): CniError {
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === 'number' && typeof e.msg === 'string') {
      return new CniError(e.code, `${type} (${command}): ${e.msg}`, typeof e.details === 'string' ? e.details : '');
    }
  } catch {
    // not an error JSON: report what it printed
  }
  const text = (stdout.trim() || stderr.trim()).slice(0, 2000);
  return new CniError(CniCode.INTERNAL, `${type} (${command}) failed with ${how}${text ? `: ${text}` : ''}`);
}
