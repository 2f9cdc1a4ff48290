/**
 * The external commands the demo and the tests run, and the Debian package of each (test/packages.txt, the table
 * test/ensure-packages.sh installs from). Checked before anything starts, so a missing tool is named at once
 * instead of surfacing later as a failed exec or a timeout.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { VxtunError, type ErrorCode } from '../../dataplane/errors.js';
import { repoRoot } from './vxtun.js';

export interface Tool {
  readonly command: string;
  readonly pkg: string;
}

/** The table's lines for one user (`demo` or `test`). */
export function toolsUsedBy(user: 'demo' | 'test', table = join(repoRoot(), 'test', 'packages.txt')): Tool[] {
  const tools: Tool[] = [];
  for (const line of readFileSync(table, 'utf8').split('\n')) {
    const [command, pkg, ...users] = line.trim().split(/\s+/);
    if (!command || command.startsWith('#') || !pkg) continue;
    if (users.includes(user)) tools.push({ command, pkg });
  }
  return tools;
}

/** Whether `command` is an executable file on PATH (or at its absolute path), as the shell's `command -v` finds it. */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  const candidates = isAbsolute(command)
    ? [command]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Throws `code` naming every missing command, its package and the install command. */
export function requireTools(tools: readonly Tool[], code: ErrorCode, who: string): void {
  const missing = tools.filter((t) => !onPath(t.command));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
  throw new VxtunError(
    code,
    `${who} runs ${missing.map((t) => `${t.command} (Debian package ${t.pkg})`).join(', ')}, ` +
      `not found on PATH: install with \`sudo apt-get install -y ${pkgs}\``,
  );
}
