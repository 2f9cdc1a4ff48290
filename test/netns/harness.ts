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
  randomVtepMac,
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

/** The two-host `vxtun static` overlay most namespace tests run: 10.244.1.0/24 on a, 10.244.2.0/24 on b. */
export const PAIR_SUBNET = { a: '10.244.1.0/24', b: '10.244.2.0/24' } as const;

/** Fresh VTEP MACs for hosts a and b. */
export function pairMacs(): Record<'a' | 'b', string> {
  return { a: randomVtepMac(), b: randomVtepMac() };
}

/** The config of `self` in that overlay, the other host its one peer, with `extra` fields laid over it. */
export function pairConfig(tb: Testbed, mac: Record<'a' | 'b', string>, self: 'a' | 'b', extra: object = {}): object {
  const other = self === 'a' ? 'b' : 'a';
  return {
    publicIp: tb.hosts[self].underlayIp,
    subnet: PAIR_SUBNET[self],
    network: '10.244.0.0/16',
    vtepMac: mac[self],
    peers: [{ publicIp: tb.hosts[other].underlayIp, subnet: PAIR_SUBNET[other], vtepMac: mac[other] }],
    ...extra,
  };
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
