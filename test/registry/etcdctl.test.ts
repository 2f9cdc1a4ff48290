import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { b64, inProcessRegistry, post, unb64 } from './helpers.js';

/** Debian's etcdctl (v3 API over gRPC) against the registry: Flannel operators' habits must work. */
const run = promisify(execFile);
const ctl = async (...args: string[]) =>
  (
    await run('etcdctl', ['--endpoints', reg.url, '--command-timeout=5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 15_000,
    })
  ).stdout;

const reg = inProcessRegistry('vxreg-ctl-');

describe('etcdctl against the registry (gRPC on the same port as the gateway)', () => {
  it('put, get --prefix, del round-trip and agree with the HTTP gateway', async () => {
    const cfg = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';
    expect(await ctl('put', '/coreos.com/network/config', cfg)).toBe('OK\n');
    expect(await ctl('put', '/coreos.com/network/subnets/10.5.1.0-24', '{"PublicIP":"192.0.2.1"}')).toBe('OK\n');
    expect(await ctl('get', '--prefix', '/coreos.com/network/')).toBe(
      `/coreos.com/network/config\n${cfg}\n/coreos.com/network/subnets/10.5.1.0-24\n{"PublicIP":"192.0.2.1"}\n`,
    );
    const viaHttp = await post(reg.url, '/v3/kv/range', { key: b64('/coreos.com/network/config') });
    expect(unb64(viaHttp.json.kvs[0].value)).toBe(cfg);
    const json = JSON.parse(await ctl('get', '/coreos.com/network/config', '-w', 'json'));
    expect(json.kvs[0].mod_revision).toBe(Number(viaHttp.json.kvs[0].mod_revision));
    expect(await ctl('del', '--prefix', '/coreos.com/network/subnets/')).toBe('1\n');
    expect(await ctl('get', '--prefix', '/coreos.com/network/subnets/')).toBe('');
  });

  it('lease grant, put --lease, lease list, timetolive --keys, revoke', async () => {
    const granted = await ctl('lease', 'grant', '60');
    const hex = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1];
    expect(hex).toBeDefined();
    expect(await ctl('put', '--lease', hex!, '/leased', 'v')).toBe('OK\n');
    expect(await ctl('lease', 'list')).toContain(hex!);
    expect(await ctl('lease', 'timetolive', '--keys', hex!)).toMatch(
      /granted with TTL\(60s\), remaining\(\d+s\), attached keys\(\[\/leased\]\)/,
    );
    const viaHttp = await post(reg.url, '/v3/lease/leases', {});
    expect(viaHttp.json.leases.map((l: { ID: string }) => l.ID)).toContain(BigInt('0x' + hex).toString());
    expect(await ctl('lease', 'revoke', hex!)).toMatch(/revoked/);
    expect(await ctl('get', '/leased')).toBe('');
  });

  it('lease keep-alive (bidi stream), txn, get --rev, compaction and watch --rev', async () => {
    const hex = /lease ([0-9a-f]+) granted/.exec(await ctl('lease', 'grant', '5'))![1];
    expect(await ctl('lease', 'keep-alive', '--once', hex)).toBe(`lease ${hex} keepalived with TTL(5)\n`);
    const first = JSON.parse(await ctl('put', '/t/a', '1', '-w', 'json')).header.revision as number;
    await ctl('put', '/t/a', '2');
    expect(await ctl('get', '/t/a', `--rev=${first}`, '--print-value-only')).toBe('1\n');
    const txn = (
      await run('sh', ['-c', `printf 'value("/t/a") = "2"\n\nput /t/b yes\n\nput /t/b no\n\n' | etcdctl --endpoints ${reg.url} txn`], {
        env: { ...process.env, ETCDCTL_API: '3' },
      })
    ).stdout;
    expect(txn).toBe('SUCCESS\n\nOK\n');
    expect(await ctl('get', '/t/b', '--print-value-only')).toBe('yes\n');
    const replay = await new Promise<string>((resolve) => {
      const child = spawn('etcdctl', ['--endpoints', reg.url, 'watch', '--prefix', '/t/', `--rev=${first}`], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('/t/b\nyes\n')) child.kill('SIGTERM');
      });
      setTimeout(() => child.kill('SIGTERM'), 5000);
      child.on('exit', () => resolve(out));
    });
    expect(replay).toBe('PUT\n/t/a\n1\nPUT\n/t/a\n2\nPUT\n/t/b\nyes\n');
    expect(await ctl('compaction', String(first + 1))).toBe(`compacted revision ${first + 1}\n`);
    await expect(ctl('get', '/t/a', `--rev=${first}`)).rejects.toThrow(/required revision has been compacted/);
  });

  it('watch --prefix streams PUT and DELETE events written over HTTP', async () => {
    const child = spawn('etcdctl', ['--endpoints', reg.url, 'watch', '--prefix', '/x/'], { env: { ...process.env, ETCDCTL_API: '3' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      // The watch is registered once the server counts it; then write through the other transport.
      const deadline = Date.now() + 5000;
      while (!/vxtun_registry_watchers 1/.test(await (await fetch(reg.url + '/metrics')).text()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await post(reg.url, '/v3/kv/put', { key: b64('/x/1'), value: b64('hello') });
      await post(reg.url, '/v3/kv/deleterange', { key: b64('/x/1') });
      const end = Date.now() + 5000;
      while (!out.includes('DELETE\n/x/1\n') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(out.startsWith('PUT\n/x/1\nhello\nDELETE\n/x/1\n')).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('endpoint status and member list answer (Maintenance.Status, Cluster.MemberList)', async () => {
    const status = await ctl('endpoint', 'status', '-w', 'json');
    expect(JSON.parse(status)[0].Status.version).toBe('3.4.23');
    expect(await ctl('member', 'list')).toContain(reg.url);
  });
});
