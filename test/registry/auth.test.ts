import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startRegistry, type RunningRegistry } from '../../control/registry/index.js';
import { b64, post, tempDir, watch } from './helpers.js';

/** Optional auth: tokens like etcd's simple tokens, roles limited to a key prefix, on both transports. */
const run = promisify(execFile);
let dir: string;
let reg: RunningRegistry;
const net = '/coreos.com/network/';

beforeAll(async () => {
  dir = await tempDir('vxreg-auth-');
  await fs.writeFile(
    path.join(dir, 'auth.json'),
    JSON.stringify({
      roles: { flannel: { prefix: net }, reader: { prefix: net, readOnly: true } },
      users: {
        flannel: { password: 'fl-pw', roles: ['flannel'] },
        viewer: { password: 'v-pw', roles: ['reader'] },
        root: { password: 'root-pw' },
      },
    }),
    { mode: 0o600 },
  );
  reg = await startRegistry({
    listen: '127.0.0.1:0',
    dataDir: path.join(dir, 'data'),
    authFile: path.join(dir, 'auth.json'),
    logger: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await reg?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const login = async (name: string, password: string) =>
  (await post(reg.url, '/v3/auth/authenticate', { name, password })).json.token as string;

describe('registry auth', () => {
  it('issues tokens and rejects missing, bogus and wrong credentials with etcd errors', async () => {
    const bad = await post(reg.url, '/v3/auth/authenticate', { name: 'flannel', password: 'nope' });
    expect([bad.status, bad.json.code, bad.json.error]).toEqual([400, 3, 'etcdserver: authentication failed, invalid user ID or password']);
    const none = await post(reg.url, '/v3/kv/range', { key: b64(net) });
    expect([none.status, none.json.code, none.json.error]).toEqual([400, 3, 'etcdserver: user name is empty']);
    const bogus = await post(reg.url, '/v3/kv/range', { key: b64(net) }, { Authorization: 'bogus.1' });
    expect([bogus.status, bogus.json.code]).toEqual([401, 16]);
    expect(await login('flannel', 'fl-pw')).toMatch(/^[\w-]+\.\d+$/);
  });

  it('limits a role to its prefix for reads, writes, txns and watches; leases need no token', async () => {
    const t = await login('flannel', 'fl-pw');
    const h = { Authorization: t };
    expect((await post(reg.url, '/v3/kv/put', { key: b64(net + 'config'), value: b64('{}') }, h)).status).toBe(200);
    const outside = await post(reg.url, '/v3/kv/put', { key: b64('/other'), value: b64('x') }, h);
    expect([outside.status, outside.json.code, outside.json.error]).toEqual([403, 7, 'etcdserver: permission denied']);
    expect((await post(reg.url, '/v3/kv/range', { key: 'AA==', range_end: 'AA==' }, h)).status).toBe(403);
    const mixed = await post(
      reg.url,
      '/v3/kv/txn',
      { success: [{ request_put: { key: b64(net + 'a'), value: b64('1') } }, { request_put: { key: b64('/b'), value: b64('2') } }] },
      h,
    );
    expect(mixed.status).toBe(403);
    const root = { Authorization: await login('root', 'root-pw') };
    const all = await post(reg.url, '/v3/kv/range', { key: 'AA==', range_end: 'AA==', keys_only: true }, root);
    expect(all.json.kvs.map((kv: { key: string }) => Buffer.from(kv.key, 'base64').toString())).toEqual([net + 'config']);
    const viewer = { Authorization: await login('viewer', 'v-pw') };
    expect((await post(reg.url, '/v3/kv/range', { key: b64(net), range_end: b64('/coreos.com/network0') }, viewer)).status).toBe(200);
    expect((await post(reg.url, '/v3/kv/put', { key: b64(net + 'x'), value: b64('1') }, viewer)).status).toBe(403);
    expect((await post(reg.url, '/v3/lease/grant', { TTL: 60 })).status).toBe(200);
    expect((await post(reg.url, '/v3/kv/compaction', { revision: '1' }, h)).status).toBe(403);
    const w = watch(reg.url, { key: b64('/other') });
    expect(await w.until((l) => l.length >= 1)).toBe(true);
    expect(w.lines[0].result).toMatchObject({
      watch_id: '-1',
      created: true,
      canceled: true,
      cancel_reason: 'rpc error: code = InvalidArgument desc = etcdserver: user name is empty',
    });
    w.close();
  });

  it('etcdctl --user works over gRPC within the prefix and is refused outside it', async () => {
    const env = { ...process.env, ETCDCTL_API: '3' };
    const ctl = (...a: string[]) => run('etcdctl', ['--endpoints', reg.url, '--command-timeout=5s', ...a], { env, timeout: 15_000 });
    expect((await ctl('--user', 'flannel:fl-pw', 'put', net + 'subnets/10.5.1.0-24', '{"PublicIP":"192.0.2.1"}')).stdout).toBe('OK\n');
    expect((await ctl('--user', 'flannel:fl-pw', 'get', '--prefix', net + 'subnets/', '--keys-only')).stdout).toBe(
      net + 'subnets/10.5.1.0-24\n\n',
    );
    await expect(ctl('--user', 'flannel:fl-pw', 'put', '/elsewhere', 'x')).rejects.toThrow(/permission denied/);
    await expect(ctl('--user', 'flannel:wrong', 'get', net)).rejects.toThrow(/authentication failed/);
  });
});
