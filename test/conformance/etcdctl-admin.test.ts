/**
 * etcdctl's admin commands against Debian's etcd 3.4.23 and the embedded registry side by side: the same
 * history gives the same `endpoint hashkv`; `snapshot save` answers at once; a gRPC client whose :authority
 * carries a scheme (what clientv3 sends for `--endpoints http://…`) is served over many requests on one
 * connection (the registry re-encodes its header blocks, see transport/h2-authority.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcPackage } from '../../control/registry/wire/proto.js';
import { embedded, etcd3423, type RunningServer } from './targets.js';

function ctl(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('/usr/bin/etcdctl', [`--endpoints=${url}`, '--command-timeout=5s', ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, ms: Date.now() - started }));
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
    const script = [['put', '/h/a', '1'], ['put', '/h/b', 'two'], ['put', '/h/a', 'three'], ['del', '/h/b'], ['put', '/h/c', ''], ['put', '/h/b', 'again'], ['del', '--prefix', '/h/a']];
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

  it('snapshot save answers at once: etcd writes a database, the registry refuses with Unimplemented', async () => {
    const fromEtcd = await ctl(etcd!.url, 'snapshot', 'save', path.join(tmp, 'etcd.db'));
    expect(fromEtcd.code, fromEtcd.stderr).toBe(0);
    expect((await fs.stat(path.join(tmp, 'etcd.db'))).size).toBeGreaterThan(0);
    const fromReg = await ctl(reg!.url, 'snapshot', 'save', path.join(tmp, 'reg.db'));
    expect(fromReg.code).not.toBe(0);
    expect(fromReg.stderr).toMatch(/code = Unimplemented desc = Snapshot is not implemented by the embedded registry/);
    expect(fromReg.ms).toBeLessThan(5000);
    await expect(fs.stat(path.join(tmp, 'reg.db'))).rejects.toThrow(/ENOENT/);
  });
});

describe('gRPC with a scheme in :authority (clientv3 dialing passthrough:///http://host:port)', () => {
  it('500 requests on one connection, with changing metadata churning the HPACK tables, all answered', async () => {
    const pb = (grpc.loadPackageDefinition(grpcPackage()) as any).etcdserverpb;
    const target = reg!.url.replace(/^http:\/\//, '');
    const kv = new pb.KV(target, grpc.credentials.createInsecure(), { 'grpc.default_authority': reg!.url });
    const call = (i: number) => new Promise<any>((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('x-request', `r-${i}-${'z'.repeat(i % 97)}`);
      kv.Put({ key: Buffer.from(`/authority/${i}`), value: Buffer.from(String(i)) }, md, (err: Error | null) => (err ? reject(err) : resolve(undefined)));
    });
    try {
      for (let i = 0; i < 500; i++) await call(i);
      const got = await new Promise<any>((resolve, reject) => kv.Range({ key: Buffer.from('/authority/'), range_end: Buffer.from('/authority0'), count_only: true }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
      expect(Number(got.count)).toBe(500);
    } finally {
      kv.close();
    }
  });
});
