import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ENTRY, b64, ensureBuilt, post, spawnRegistry, tempDir, unb64, type RegistryProcess } from './helpers.js';

/**
 * The data-directory lock is an OS lock held by the registry process: it goes away with the process, however
 * it ended, and nothing else (a pid in a file, a process that merely has that pid) holds it.
 */
let dir: string;
const started: RegistryProcess[] = [];
beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('vxreg-lock-');
}, 120_000);
afterAll(async () => {
  for (const r of started) await r.kill9();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Starts a registry under a shell that then execs `sleep`, which never reaps it: killed, it stays a zombie. */
function spawnUnreaped(dataDir: string): Promise<{ pid: number; url: string; sleeper: () => void }> {
  const script = `"$0" "$1" registry --listen 127.0.0.1:0 --data-dir "$2" & echo "child $!" >&2; exec sleep 30`;
  const sh = spawn('sh', ['-c', script, process.execPath, ENTRY, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      sh.kill('SIGKILL');
      reject(new Error(`registry did not start: ${out}${err}`));
    }, 15_000);
    const check = () => {
      const pid = /child (\d+)/.exec(err)?.[1];
      const url = /"url":"([^"]+)".*"msg":"registry listening"/.exec(out)?.[1];
      if (pid && url) {
        clearTimeout(timer);
        resolve({ pid: Number(pid), url, sleeper: () => sh.kill('SIGKILL') });
      }
    };
    sh.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      check();
    });
    sh.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      check();
    });
  });
}

const isZombie = async (pid: number) => /\nState:\s+Z/.test(await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));

describe('registry data-directory lock', () => {
  it('starts right after kill -9 while the killed process is not yet reaped, with every write kept', async () => {
    const first = await spawnUnreaped(dir);
    try {
      expect((await post(first.url, '/v3/kv/put', { key: b64('/lock/a'), value: b64('kept') })).status).toBe(200);
      process.kill(first.pid, 'SIGKILL');
      const deadline = Date.now() + 5000;
      while (!(await isZombie(first.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await isZombie(first.pid)).toBe(true);
      const second = await spawnRegistry(dir);
      started.push(second);
      const got = await post(second.url, '/v3/kv/range', { key: b64('/lock/a') });
      expect(unb64(got.json.kvs?.[0]?.value)).toBe('kept');
      await second.stop();
      started.pop();
    } finally {
      try {
        process.kill(first.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      first.sleeper();
    }
  });

  it('ignores a LOCK file naming a live process that is not a registry (a pid reused after a reboot)', async () => {
    await fs.writeFile(path.join(dir, 'LOCK'), '1\n');
    const reg = await spawnRegistry(dir);
    started.push(reg);
    expect((await post(reg.url, '/v3/kv/range', { key: b64('/lock/a') })).status).toBe(200);
  });

  it('refuses a second registry while one runs, naming the running one, and the first keeps serving', async () => {
    const running = started[started.length - 1];
    await expect(spawnRegistry(dir)).rejects.toThrow(
      new RegExp(`VXTUN_ERR_REGISTRY_DATA: data directory .* is in use by another registry \\(pid ${running.proc.pid}\\)`),
    );
    expect((await post(running.url, '/v3/kv/put', { key: b64('/lock/b'), value: b64('x') })).status).toBe(200);
  });
});
