/**
 * Shared pieces of the namespace integration tests: a two-host testbed (bench/testbed), vxtun launched with a
 * config the test writes (bench/testbed's launcher), and traffic tools run inside the namespaces.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  launchStatic,
  writeStaticConfig,
  type FinalStats,
  type HostName,
  type RunningVxtun,
  type Testbed,
} from '../../bench/testbed/index.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/control/cli.js');

export const isRoot = process.getuid?.() === 0;

export type VxtunProc = RunningVxtun;
export type { FinalStats };

/** Starts `vxtun static` in a namespace with the given config object (state dir: a fresh one unless given). */
export async function startStatic(tb: Testbed, host: HostName, config: object, extraArgs: string[] = []): Promise<VxtunProc> {
  const dir = mkdtempSync(join(tmpdir(), `vxtun-test-${tb.prefix}${host}-`));
  const file = join(dir, 'config.json');
  writeStaticConfig(file, { stateDir: join(dir, 'state'), ...config });
  return launchStatic(tb, host, file, { extraArgs, ownedDir: dir });
}

/** A traffic tool: the shared ones in bench/testbed/traffic (also used by the demo), test-only ones in test/netns/tools. */
export function tool(name: string): string {
  const shared = join(ROOT, 'bench/testbed/traffic', name);
  return existsSync(shared) ? shared : join(ROOT, 'test/netns/tools', name);
}

export { collect, tcpTransfer, udpTransfer, waitFor } from '../../bench/testbed/transfer.js';

/** ping -c N; returns the number of replies. */
export async function ping(tb: Testbed, from: HostName, addr: string, count = 3): Promise<number> {
  const r = await tb.exec(from, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', addr], { timeoutMs: 20_000, allowFail: true });
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}
