/**
 * The registry's disk going wrong under it. A full data directory (a 4 MiB tmpfs in a private mount namespace,
 * filled by another file): the write that meets it fails with a clear error, later writes fail the same way at
 * once, reads keep answering with exactly the acknowledged data, and after a restart with space again every
 * acknowledged write is there and writes work. A torn last log record (a crash in the middle of writing it):
 * the restart drops it, keeps everything before it, and logs what it cut. A read-only data directory (Linux
 * refuses to make a file system read-only while the log is open for writing, so this is a start on one): the
 * registry serves the data, and refuses writes with a clear error.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../netns/harness.js';
import { b64, ensureBuilt, post, spawnRegistry, tempDir, unb64, type RegistryProcess } from '../registry/helpers.js';

let dir = '';
const running: RegistryProcess[] = [];
beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('vxreg-disk-');
}, 120_000);
afterAll(async () => {
  for (const r of running) if (r.proc.exitCode === null) await r.kill9();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function all(url: string, prefix: string): Promise<Map<string, string>> {
  const r = await post(url, '/v3/kv/range', {
    key: b64(prefix),
    range_end: b64(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)),
  });
  expect(r.status, r.body).toBe(200);
  return new Map((r.json.kvs ?? []).map((kv: { key: string; value: string }) => [unb64(kv.key), unb64(kv.value)]));
}

/** Starts a registry on `data` (through `launcher`, if given) and writes `n` puts under `prefix`, each acknowledged. */
async function startAndWrite(data: string, prefix: string, n: number, launcher: string[] = []): Promise<RegistryProcess> {
  const reg = await spawnRegistry(data, [], launcher);
  running.push(reg);
  for (let i = 0; i < n; i++)
    expect((await post(reg.url, '/v3/kv/put', { key: b64(`${prefix}${i}`), value: b64(`v${i}`) })).status).toBe(200);
  return reg;
}

/** A process holding a private mount namespace set up by `script` ("$0" is `target`); the mounts go with it. */
async function mountNamespace(script: string, target: string): Promise<ChildProcess> {
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${script} && echo ready && exec sleep 120`, target], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`mount namespace holder exited with ${code}`)));
  });
  return holder;
}

describe('registry: torn last log record', () => {
  it('a restart drops the torn record, keeps every earlier one, and later writes survive another restart', async () => {
    const data = path.join(dir, 'torn');
    let reg = await startAndWrite(data, '/t/', 50);
    await reg.kill9();
    // The crash happened while the 50th put was being written: cut its record in half.
    const walDir = path.join(data, 'wal');
    const segment = path.join(walDir, (await fs.readdir(walDir)).sort().pop()!);
    const size = (await fs.stat(segment)).size;
    const frame = Buffer.byteLength(JSON.stringify({ s: 0 })); // a lower bound; the record is larger
    await fs.truncate(segment, size - frame);
    reg = await spawnRegistry(data);
    running.push(reg);
    const recovered = reg.log.find((l) => l.includes('recovered'))!;
    expect(JSON.parse(recovered).discardedTornBytes).toBeGreaterThan(0);
    const have = await all(reg.url, '/t/');
    expect(have.size).toBe(49);
    for (let i = 0; i < 49; i++) expect(have.get(`/t/${i}`)).toBe(`v${i}`);
    expect(have.has('/t/49')).toBe(false);
    expect((await post(reg.url, '/v3/kv/put', { key: b64('/t/after'), value: b64('x') })).status).toBe(200);
    await reg.kill9();
    reg = await spawnRegistry(data);
    running.push(reg);
    expect((await all(reg.url, '/t/')).get('/t/after')).toBe('x');
    await reg.stop();
  });
});

describe.runIf(isRoot)('registry: data directory full', () => {
  let holder: ChildProcess | undefined;
  afterAll(() => {
    if (holder?.pid && holder.exitCode === null) process.kill(holder.pid, 'SIGKILL');
  });

  it('the write that meets a full disk fails clearly, reads serve the acknowledged data, nothing acknowledged is lost', async () => {
    const mnt = path.join(dir, 'small');
    await fs.mkdir(mnt);
    // A mount namespace of our own holds a 4 MiB tmpfs; it disappears with the holder process.
    holder = await mountNamespace('mount -t tmpfs -o size=4m tmpfs "$0"', mnt);
    const inNs = ['nsenter', '-t', String(holder.pid), '-m'];
    const data = path.join(mnt, 'data');
    let reg = await startAndWrite(data, '/d/', 20, inNs);
    const acked = new Map<string, string>(Array.from({ length: 20 }, (_, i) => [`/d/${i}`, `v${i}`]));
    // Something else fills the file system.
    try {
      execFileSync(inNs[0], [...inNs.slice(1), 'dd', 'if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {
      /* ENOSPC ends dd */
    }
    let failed: { status: number; json: any } | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    const value = 'x'.repeat(8192);
    for (let i = 0; i < 20 && !failed; i++) {
      const r = await post(reg.url, '/v3/kv/put', { key: b64(`/d/full${i}`), value: b64(value) });
      if (r.status === 200) acked.set(`/d/full${i}`, value);
      else failed = r;
    }
    expect(failed, 'a write on a full disk must fail').toBeDefined();
    expect([failed!.status, failed!.json.code]).toEqual([503, 14]);
    expect(failed!.json.message).toMatch(/no space left on device/i);
    // Later writes fail at once with the same clear error; reads answer with exactly what was acknowledged.
    const again = await post(reg.url, '/v3/kv/put', { key: b64('/d/again'), value: b64('y') });
    expect(again.status).toBe(503);
    expect(again.json.message).toMatch(/read-only|reads only/);
    expect(await all(reg.url, '/d/')).toEqual(acked);
    expect((await fetch(reg.url + '/health')).status).toBe(503);
    expect(reg.proc.exitCode).toBeNull();

    // Space again, and a restart: every acknowledged write is there, and writes work.
    execFileSync(inNs[0], [...inNs.slice(1), 'rm', '-f', path.join(mnt, 'filler')]);
    await reg.kill9();
    reg = await spawnRegistry(data, [], inNs);
    running.push(reg);
    expect(await all(reg.url, '/d/')).toEqual(acked);
    expect((await post(reg.url, '/v3/kv/put', { key: b64('/d/later'), value: b64('z') })).status).toBe(200);
    await reg.stop();
  });
});

describe.runIf(isRoot)('registry: read-only data directory', () => {
  it('starts on it, serves every acknowledged write, refuses writes with a clear error', async () => {
    const data = path.join(dir, 'ro');
    let reg = await startAndWrite(data, '/ro/', 10);
    await reg.stop();
    const holder = await mountNamespace('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', data);
    try {
      reg = await spawnRegistry(data, [], ['nsenter', '-t', String(holder.pid), '-m']);
      running.push(reg);
      const have = await all(reg.url, '/ro/');
      expect(have.size).toBe(10);
      for (let i = 0; i < 10; i++) expect(have.get(`/ro/${i}`)).toBe(`v${i}`);
      const put = await post(reg.url, '/v3/kv/put', { key: b64('/ro/new'), value: b64('x') });
      expect([put.status, put.json.code]).toEqual([503, 14]);
      expect(put.json.message).toMatch(/read-only file system.*serves reads only/);
      expect((await fetch(reg.url + '/health')).status).toBe(503);
      expect(reg.log.join('\n')).toMatch(/data directory is read-only; the registry serves reads only/);
      await reg.stop();
    } finally {
      if (holder.pid && holder.exitCode === null) process.kill(holder.pid, 'SIGKILL');
    }
  });
});
