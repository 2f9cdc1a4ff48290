import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './testbed/process.js';
import { repoRoot } from './testbed/vxtun.js';
import { isRoot } from '../test/netns/harness.js';
import { setTimeout as sleep } from 'node:timers/promises';

const cli = join(repoRoot(), 'dist', 'bench', 'cli.js');

describe.runIf(isRoot)('npm run bench interrupted with Ctrl-C', () => {
  it.runIf(existsSync(cli))('stops its iperf3 servers, deletes its namespaces and writes no result', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vxtun-bench-int-'));
    const bench = spawn(
      process.execPath,
      [cli, '--modes', 'underlay', '--metrics', 'tcp1', '--duration', '20', '--repetitions', '1', '--out', out],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => bench.once('exit', (code, signal) => resolve(signal ?? code)));
    try {
      const testbed = async (): Promise<RegExpExecArray | null> => {
        for (let i = 0; i < 200; i++) {
          const match = /testbed (vx[0-9a-f]+): \S+ \S+ <-veth-> \S+ (\S+),/.exec(stderr);
          // Wait until traffic flows, so there is a server and a client to clean up.
          const { stdout } = await run(['ps', '-eo', 'args']);
          if (match !== null && stdout.includes(`iperf3 -s -B ${match[2]}`)) return match;
          await sleep(50);
        }
        return null;
      };
      const match = await testbed();
      expect(match, stderr).not.toBeNull();
      const [, prefix, serverIp] = match as RegExpExecArray;
      bench.kill('SIGINT');
      expect(await exited).toBe('SIGINT');
      const { stdout: namespaces } = await run(['ip', 'netns', 'list']);
      expect(namespaces).not.toContain(`${prefix}a`);
      expect(namespaces).not.toContain(`${prefix}b`);
      const { stdout: processes } = await run(['ps', '-eo', 'args']);
      expect(processes).not.toContain(`iperf3 -s -B ${serverIp}`);
      expect(processes).not.toContain(`-c ${serverIp}`);
      expect(readdirSync(out)).toEqual([]);
    } finally {
      bench.kill('SIGKILL');
      rmSync(out, { recursive: true, force: true });
    }
  });
});
