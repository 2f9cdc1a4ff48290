/**
 * `npm run demo` as a new user runs it: its package check names what is missing before anything starts, and the
 * demo itself runs end to end without a terminal, prints its summary, and leaves nothing behind (namespaces,
 * links, processes, files).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onPath } from '../../bench/testbed/tools.js';
import { isRoot, ROOT } from './harness.js';

const DEMO = join(ROOT, 'dist/bench/demo.js');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function runDemo(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const netnsList = async () => (await import('node:child_process')).execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const rootLinks = async () => (await import('node:child_process')).execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });

/** PIDs of live processes whose environment carries `marker` (children inherit it through `ip netns exec`). */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

describe('npm run demo', () => {
  const bin = mkdtempSync(join(tmpdir(), 'vxtun-demo-path-'));
  chmodSync(bin, 0o755); // the package script runs as nobody and must see it
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it('names a missing command and its Debian package before it creates anything', async () => {
    // PATH holds every command the demo runs except etcdctl (bridge and host-local it finds by absolute path).
    for (const cmd of ['ip', 'ping', 'ethtool', 'iptables']) {
      const dir = (process.env.PATH ?? '').split(':').find((d) => d && existsSync(join(d, cmd)));
      if (dir) symlinkSync(join(dir, cmd), join(bin, cmd));
    }
    const before = isRoot ? await netnsList() : '';
    const r = await runDemo({ ...process.env, PATH: bin }, 20_000);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      'demo: VXTUN_ERR_TESTBED: the demo runs etcdctl (Debian package etcd-client), not found on PATH: install with `sudo apt-get install -y etcd-client`',
    );
    expect(r.out).toBe('');
    if (isRoot) expect(await netnsList()).toBe(before);
  });

  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((f) => onPath(f));
  it.runIf(isRoot && runuser !== undefined)('the package script names what is missing when not run as root', async () => {
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(runuser!, ['-u', 'nobody', '--', '/bin/bash', join(ROOT, 'test/ensure-packages.sh'), 'demo'], {
        env: { PATH: bin },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.once('exit', (code) => resolve({ code, out: '', err }));
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain('vxtun demo needs these Debian packages: etcd-client');
    expect(r.err).toContain('sudo apt-get install -y etcd-client');
  });

  it.runIf(isRoot)(
    'runs end to end without a terminal, reports 100 MB intact and the containers reaching each other, and leaves nothing behind',
    async () => {
      const marker = `VXTUN_DEMO_RUN=${randomBytes(8).toString('hex')}`;
      const [name, value] = marker.split('=');
      const r = await runDemo({ ...process.env, [name]: value }, 160_000);
      const output = `${r.out}\n${r.err}`;
      expect(r.code, output).toBe(0);
      expect(r.out).toContain(
        'OK: the overlay carried 100 MB intact between hosts a and b, and six containers on three hosts, attached through the CNI plugin, reached each other; DEL left nothing behind.',
      );
      for (const dir of ['a -> b', 'b -> a']) expect(r.out).toMatch(new RegExp(`${dir} \\(10\\.244\\.\\d+\\.0\\): [1-3]/3 replies`));
      const sent = /sent by a: +104857600 bytes {2}sha256 ([0-9a-f]{64})/.exec(r.out);
      const got = /received by b: 104857600 bytes {2}sha256 ([0-9a-f]{64})/.exec(r.out);
      expect(sent?.[1]).toBeDefined();
      expect(got?.[1]).toBe(sent?.[1]);
      // vxtun status on host b: host a is a peer that sent it the 100 MB.
      const subnetA = /host a: subnet (10\.244\.\d+\.0\/24)/.exec(r.out)?.[1];
      expect(r.out).toMatch(
        new RegExp(
          `    peer ${subnetA?.replace(/\./g, '\\.')}(, \\S+)?\\n      public ip: \\S+\\n      vtep mac: \\S+\\n      transfer: 1\\d\\d\\.\\d\\d MiB received`,
        ),
      );
      // Containers: two per host attached by CNI ADD (dual stack), each answered by all four on the other hosts over
      // IPv4 and IPv6, a transfer
      // container to container with matching sha256, and after DEL nothing held on any host.
      for (const c of ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']) {
        expect(r.out).toMatch(
          new RegExp(
            `container ${c} on host ${c[0]}: netns vx[0-9a-f]{4}-${c}, eth0 10\\.244\\.\\d+\\.\\d+/24 fd10:244:0:[0-9a-f]+::[0-9a-f]+/64, MTU 1450`,
          ),
        );
        const others = ['a', 'b', 'c'].filter((h) => h !== c[0]).flatMap((h) => [`${h}1`, `${h}2`]);
        expect(r.out).toMatch(new RegExp(`    ${c} -> ${others.map((o) => `${o} [12]/2`).join(', ')}\n`));
        expect(r.out).toMatch(new RegExp(`    ${c} -> ${others.map((o) => `${o} [12]/2`).join(', ')} \\(IPv6\\)\n`));
      }
      const csent = /sent by a1: +20971520 bytes {2}sha256 ([0-9a-f]{64})/.exec(r.out);
      expect(csent?.[1]).toBeDefined();
      expect(/received by c2: 20971520 bytes {2}sha256 ([0-9a-f]{64})/.exec(r.out)?.[1]).toBe(csent?.[1]);
      for (const h of ['a', 'b', 'c']) {
        expect(r.out).toContain(`host ${h}: 2 container veths, 4 addresses held by host-local, 2 plugin records, 2 masquerade chains\n`);
        expect(r.out).toContain(
          `host ${h}: 0 container veths, 0 addresses held by host-local, 0 plugin records, 0 masquerade chains (cni0 stays, as with Flannel)`,
        );
      }
      const prefix = /host a: netns (vx[0-9a-f]{4})a,/.exec(r.out)?.[1];
      expect(prefix).toBeDefined();

      expect((await netnsList()).split('\n').filter((l) => l.startsWith(prefix!))).toEqual([]);
      expect((await rootLinks()).split('\n').filter((l) => l.includes(prefix!))).toEqual([]);
      expect(processesWith(marker)).toEqual([]);
      expect(readdirSync(tmpdir()).filter((f) => f.includes(prefix!))).toEqual([]);
      if (existsSync('/run/vxtun')) expect(readdirSync('/run/vxtun').filter((f) => f.includes(prefix!))).toEqual([]);
    },
    180_000,
  );
});
