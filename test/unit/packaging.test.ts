/**
 * vxtun as an operator installs it: the package holds what runs (compiled JavaScript, the shim's sources and build
 * script, the systemd units) and nothing else; `npm install -g` of it puts a working `vxtun` on PATH; the systemd
 * units pass `systemd-analyze verify`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../netns/harness.js';

const exec = promisify(execFile);
const UNITS = join(ROOT, 'deploy', 'systemd');

describe('the npm package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtun-pack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let tarball = '';

  it('holds the compiled program, the shim sources and the units, and no tests, source maps or build leftovers', async () => {
    // --ignore-scripts: pack what the last build left, without rebuilding under tests that may be running it.
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 60_000 });
    const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(dir, info.filename);
    const files = info.files.map((f) => f.path);
    for (const needed of [
      'package.json',
      'README.md',
      'dist/control/cli.js',
      'dist/dataplane/worker.js',
      'dataplane/native/binding.gyp',
      'dataplane/native/build.mjs',
      'dataplane/native/src/tun.c',
      'deploy/systemd/vxtun-agent.service',
      'deploy/systemd/vxtun-registry.service',
    ]) {
      expect(files, needed).toContain(needed);
    }
    const leftovers = files.filter((f) =>
      /(^|\/)test\/|\.test\.js$|\.bench\.js$|\.map$|\.tsbuildinfo$|^dataplane\/native\/build\/|\.o$|\.node$|(?<!\.d)\.ts$/.test(f),
    );
    expect(leftovers).toEqual([]);
    // Every compiled file has its source: nothing left in dist by a file since renamed or deleted.
    const orphans = files.filter(
      (f) => f.startsWith('dist/') && f.endsWith('.js') && !existsSync(join(ROOT, f.slice(5).replace(/\.js$/, '.ts'))),
    );
    expect(orphans).toEqual([]);
  });

  it('npm install -g of it puts vxtun on PATH, with the shim built from the packaged sources', async () => {
    expect(tarball).not.toBe('');
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    await exec('tar', ['-xzf', tarball, '-C', unpacked]);
    const pkg = join(unpacked, 'package');
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      version: string;
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(manifest.bin).toEqual({ vxtun: 'dist/control/cli.js' });
    // What `npm install` runs in the installed package (its install script): the shim must build from what was packed.
    expect(manifest.scripts.install).toBe('node dataplane/native/build.mjs');
    await exec(process.execPath, ['dataplane/native/build.mjs'], { cwd: pkg, timeout: 170_000 });
    // The dependencies as the registry would provide them (tests stay off the network): this checkout's.
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const prefix = join(dir, 'global');
    await exec('npm', ['install', '-g', '--prefix', prefix, '--ignore-scripts', '--offline', '--no-audit', '--no-fund', pkg], {
      timeout: 60_000,
    });
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
    expect((await exec('vxtun', ['--version'], { env })).stdout).toBe(`${manifest.version}\n`);
    expect((await exec('vxtun', ['status', '--help'], { env })).stdout).toContain('Usage: vxtun status');
  }, 180_000);
});

describe('systemd units (systemd-analyze: test/packages.txt)', () => {
  it('every unit in deploy/systemd passes systemd-analyze verify, and a broken one does not', async () => {
    const units = readdirSync(UNITS)
      .filter((f) => f.endsWith('.service'))
      .sort();
    expect(units).toEqual(['vxtun-agent.service', 'vxtun-registry.service', 'vxtun-static.service']);
    const r = await exec('systemd-analyze', ['verify', ...units.map((u) => join(UNITS, u))], { timeout: 60_000 }).then(
      (ok) => ({ code: 0, stderr: ok.stderr }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/vxtun-[a-z]+\.service:\d+:/);

    const dir = mkdtempSync(join(tmpdir(), 'vxtun-units-'));
    try {
      const broken = join(dir, 'vxtun-agent.service');
      copyFileSync(join(UNITS, 'vxtun-agent.service'), broken);
      writeFileSync(broken, readFileSync(broken, 'utf8').replace('Restart=on-failure', 'Restart=sometimes'));
      const bad = await exec('systemd-analyze', ['verify', broken], { timeout: 60_000 }).then(
        (ok) => ({ code: 0, stderr: ok.stderr }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(bad.stderr).toMatch(/vxtun-agent\.service:\d+: Failed to parse service restart specifier/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
