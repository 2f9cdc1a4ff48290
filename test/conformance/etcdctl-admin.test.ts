/**
 * etcdctl's admin commands against Debian's etcd 3.4.23 and the embedded registry side by side: the same
 * history gives the same `endpoint hashkv`; `snapshot save` gives a database Debian's etcd restores and serves;
 * a gRPC client whose :authority
 * carries a scheme (what clientv3 sends for `--endpoints http://…`) is served over many requests on one
 * connection (the registry re-encodes its header blocks, see transport/h2-authority.ts).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcPackage } from '../../control/registry/wire/proto.js';
import { embedded, etcd3423, type RunningServer } from './targets.js';
import { ETCD_BINARY, freePort } from '../../bench/registry/etcd-process.js';
import { b64, post } from './raw.js';

function ctl(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/etcdctl',
      [`--endpoints=${url}`, '--command-timeout=5s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

let etcd: RunningServer | undefined;
let reg: RunningServer | undefined;
let tmp = '';
beforeAll(async () => {
  [etcd, reg] = await Promise.all([etcd3423.start(), embedded.start()]);
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vxtun-ctl-admin-'));
});
afterAll(async () => {
  await Promise.all([etcd?.stop(), reg?.stop()]);
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const hashkv = async (url: string, rev?: number) => {
  const r = await ctl(url, 'endpoint', 'hashkv', '-w', 'json', ...(rev ? [`--rev=${rev}`] : []));
  expect(r.code, r.stderr).toBe(0);
  const { hash, compact_revision } = JSON.parse(r.stdout)[0].HashKV;
  return { hash, compact_revision };
};

describe('etcdctl admin commands: etcd 3.4.23 and the embedded registry', () => {
  it('the same writes give the same endpoint hashkv, before and after a compaction, at any revision', async () => {
    const urls = [etcd!.url, reg!.url];
    const script = [
      ['put', '/h/a', '1'],
      ['put', '/h/b', 'two'],
      ['put', '/h/a', 'three'],
      ['del', '/h/b'],
      ['put', '/h/c', ''],
      ['put', '/h/b', 'again'],
      ['del', '--prefix', '/h/a'],
    ];
    for (const step of script) {
      for (const url of urls) expect((await ctl(url, ...step)).code).toBe(0);
    }
    const [e, r] = await Promise.all(urls.map((u) => hashkv(u)));
    expect(e.compact_revision).toBe(-1);
    expect(r).toEqual(e);
    for (const rev of [2, 4, 6]) expect(await hashkv(reg!.url, rev)).toEqual(await hashkv(etcd!.url, rev));
    for (const url of urls) expect((await ctl(url, 'compaction', '5')).stdout).toBe('compacted revision 5\n');
    const [e2, r2] = await Promise.all(urls.map((u) => hashkv(u)));
    expect(e2.compact_revision).toBe(5);
    expect(r2).toEqual(e2);
    expect(await hashkv(reg!.url, 7)).toEqual(await hashkv(etcd!.url, 7));
  });

  it('snapshot save writes an etcd database: snapshot status reads it, restore makes an etcd that serves the same data', async () => {
    const url = reg!.url;
    expect((await ctl(url, 'put', '/snap/a', '1')).code).toBe(0);
    expect((await ctl(url, 'put', '/snap/a', '2')).code).toBe(0);
    // Enough revisions for several leaf pages under a branch page, and a value that spills into overflow pages.
    for (let t = 0; t < 15; t++) {
      const success = Array.from({ length: 100 }, (_, i) => ({ request_put: { key: b64(`/many/${t}/${i}`), value: b64(`m${t}.${i}`) } }));
      expect((await post(url, '/v3/kv/txn', { success })).status).toBe(200);
    }
    expect((await post(url, '/v3/kv/put', { key: b64('/many/big'), value: b64('b'.repeat(10_000)) })).status).toBe(200);
    const lease = /lease ([0-9a-f]+) granted/.exec((await ctl(url, 'lease', 'grant', '600')).stdout)![1];
    expect((await ctl(url, 'put', `--lease=${lease}`, '/snap/leased', 'x')).code).toBe(0);
    const db = path.join(tmp, 'reg.db');
    const saved = await ctl(url, 'snapshot', 'save', db);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toBe(`Snapshot saved at ${db}\n`);
    const [status] = [JSON.parse((await ctl(url, 'snapshot', 'status', db, '-w', 'json')).stdout)];
    const { header } = (await post(url, '/v3/kv/range', { key: b64('/snap/a') })).json;
    expect(status.revision).toBe(Number(header.revision));

    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const peer = `http://127.0.0.1:${peerPort}`;
    const dataDir = path.join(tmp, 'restored');
    const restored = await ctl(
      url,
      'snapshot',
      'restore',
      db,
      '--data-dir',
      dataDir,
      '--name',
      'r',
      '--initial-cluster',
      `r=${peer}`,
      '--initial-advertise-peer-urls',
      peer,
    );
    expect(restored.code, restored.stderr).toBe(0);
    const client = `http://127.0.0.1:${clientPort}`;
    const etcdRestored = spawn(
      ETCD_BINARY,
      [
        '--name',
        'r',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--log-level',
        'error',
        '--logger',
        'zap',
      ],
      { stdio: 'ignore' },
    );
    try {
      let got = await ctl(client, 'get', '--prefix', '/snap/');
      for (let i = 0; i < 50 && got.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        got = await ctl(client, 'get', '--prefix', '/snap/');
      }
      expect(got.stdout).toBe((await ctl(url, 'get', '--prefix', '/snap/')).stdout);
      expect(got.stdout).toBe('/snap/a\n2\n/snap/leased\nx\n');
      expect((await ctl(client, 'lease', 'list')).stdout).toContain(lease);
      expect(await hashkv(client)).toEqual(await hashkv(url));
      expect((await ctl(client, 'get', '--prefix', '/many/', '--keys-only', '-w', 'json')).stdout).toMatch(/"count":1501/);
      expect((await ctl(client, 'get', '/many/big', '--print-value-only')).stdout).toBe('b'.repeat(10_000) + '\n');
    } finally {
      if (etcdRestored.pid && etcdRestored.exitCode === null) process.kill(etcdRestored.pid, 'SIGKILL');
    }
  });
});

describe('gRPC with a scheme in :authority (clientv3 dialing passthrough:///http://host:port)', () => {
  it('500 requests on one connection, with changing metadata churning the HPACK tables, all answered', async () => {
    const pb = (grpc.loadPackageDefinition(grpcPackage()) as any).etcdserverpb;
    const target = reg!.url.replace(/^http:\/\//, '');
    const kv = new pb.KV(target, grpc.credentials.createInsecure(), { 'grpc.default_authority': reg!.url });
    const call = (i: number) =>
      new Promise<any>((resolve, reject) => {
        const md = new grpc.Metadata();
        md.set('x-request', `r-${i}-${'z'.repeat(i % 97)}`);
        kv.Put({ key: Buffer.from(`/authority/${i}`), value: Buffer.from(String(i)) }, md, (err: Error | null) =>
          err ? reject(err) : resolve(undefined),
        );
      });
    try {
      for (let i = 0; i < 500; i++) await call(i);
      const got = await new Promise<any>((resolve, reject) =>
        kv.Range(
          { key: Buffer.from('/authority/'), range_end: Buffer.from('/authority0'), count_only: true },
          (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)),
        ),
      );
      expect(Number(got.count)).toBe(500);
    } finally {
      kv.close();
    }
  });
});
