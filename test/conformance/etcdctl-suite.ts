/**
 * The gRPC side, through Debian's etcdctl (ETCDCTL_API=3): the commands Flannel operators type.
 * Every etcdctl run is bounded by a timeout and killed by PID if it overstays.
 */
import { execFile, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, text } from '../../control/etcd/index.js';
import { type RunningServer, type Target, uniquePrefix } from './targets.js';

const ETCDCTL = '/usr/bin/etcdctl';

function ctl(url: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      ETCDCTL,
      [`--endpoints=${url}`, '--command-timeout=5s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`etcdctl ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** Runs `etcdctl watch` until it printed `wantLines` lines or `ms` passes, then kills it by PID. */
function ctlWatch(url: string, args: string[], wantLines: number, ms = 5000): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn(ETCDCTL, [`--endpoints=${url}`, 'watch', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      resolve(out.split('\n').filter((l) => l !== ''));
    };
    const timer = setTimeout(done, ms);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').filter((l) => l !== '').length >= wantLines) done();
    });
    child.on('exit', done);
  });
}

export function etcdctlSuite(target: Target): void {
  describe(`etcdctl (gRPC) against ${target.name}`, () => {
    let server: RunningServer | undefined;
    let url = '';
    let client: EtcdClient;
    beforeAll(async () => {
      server = await target.start();
      url = server.url;
      client = new EtcdClient({ endpoints: [url] });
    });
    afterAll(async () => {
      client?.close();
      await server?.stop();
    });

    it('put, get --prefix and del; the HTTP client sees what etcdctl wrote', async () => {
      const p = uniquePrefix('ctl');
      expect(await ctl(url, 'put', `${p}config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}')).toBe('OK\n');
      expect(await ctl(url, 'put', `${p}subnets/10.5.72.0-24`, 'lease')).toBe('OK\n');
      expect(text((await client.get(`${p}config`))?.value)).toBe('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
      await client.put(`${p}subnets/10.5.73.0-24`, 'from-http');
      expect(await ctl(url, 'get', '--prefix', `${p}subnets/`)).toBe(
        `${p}subnets/10.5.72.0-24\nlease\n${p}subnets/10.5.73.0-24\nfrom-http\n`,
      );
      expect(await ctl(url, 'del', '--prefix', `${p}subnets/`)).toBe('2\n');
      expect((await client.range(p, { prefix: true })).count).toBe(1n);
    });

    it('watch --prefix --rev streams the later PUT and DELETE events', async () => {
      const p = uniquePrefix('ctlwatch');
      const rev = (await client.put(`${p}a`, '1')).header.revision;
      await client.put(`${p}a`, '2');
      await client.delete(`${p}a`);
      const lines = await ctlWatch(url, ['--prefix', `--rev=${rev + 1n}`, p], 5);
      expect(lines).toEqual(['PUT', `${p}a`, '2', 'DELETE', `${p}a`]);
    });

    it('lease grant, put --lease, lease list / timetolive, lease revoke removes the key', async () => {
      const p = uniquePrefix('ctllease');
      const granted = await ctl(url, 'lease', 'grant', '60');
      const m = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(granted);
      expect(m).not.toBeNull();
      const hex = m![1];
      expect(await client.leases()).toContain(BigInt(`0x${hex}`));
      expect(await ctl(url, 'lease', 'list')).toMatch(new RegExp(`^found \\d+ leases\\n(?:.*\\n)*${hex}\\n`));
      expect(await ctl(url, 'put', `--lease=${hex}`, `${p}k`, 'v')).toBe('OK\n');
      expect(await ctl(url, 'lease', 'timetolive', '--keys', hex)).toMatch(
        new RegExp(`remaining\\(\\d+s\\), attached keys\\(\\[${p}k\\]\\)`),
      );
      expect(await ctl(url, 'lease', 'revoke', hex)).toBe(`lease ${hex} revoked\n`);
      expect(await client.get(`${p}k`)).toBeUndefined();
    });

    // etcdctl 3.4's `endpoint status` dials the endpoint string as given, so with a scheme its HTTP/2 :authority
    // is "http://127.0.0.1:PORT"; etcd accepts that. Both spellings are what operators type.
    for (const spelling of ['host:port', 'http://host:port'] as const) {
      it(`endpoint status answers with a version and the store revision (--endpoints ${spelling})`, async () => {
        const rev = (await client.put(`${uniquePrefix('status')}k`, 'v')).header.revision;
        const endpoint = spelling === 'host:port' ? url.replace(/^https?:\/\//, '') : url;
        const [st] = JSON.parse(await ctl(endpoint, 'endpoint', 'status', '-w', 'json'));
        expect(st.Status.version).toMatch(/^3\.\d+\.\d+$/);
        expect(st.Status.header.revision).toBeGreaterThanOrEqual(Number(rev));
      });
    }

    it('endpoint hashkv, user list and role list answer (no auth: no users, no roles)', async () => {
      const [h] = JSON.parse(await ctl(url, 'endpoint', 'hashkv', '-w', 'json'));
      expect(h.HashKV.hash).toBeGreaterThan(0);
      expect(await ctl(url, 'user', 'list')).toBe('');
      expect(await ctl(url, 'role', 'list')).toBe('');
    });
  });
}
