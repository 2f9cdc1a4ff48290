import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, EtcdError, text } from '../../control/etcd/index.js';
import { startEtcd, type EtcdProcess } from '../../bench/registry/etcd-process.js';
import { post, rawRequest } from './raw.js';
import { conformanceSuite } from './suite.js';
import { etcd3423 } from './targets.js';

conformanceSuite(etcd3423);

describe('token auth against etcd 3.4.23 (user/password, Authorization header, re-authentication)', () => {
  let etcd: EtcdProcess | undefined;
  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--auth-token-ttl', '1'] }); // simple tokens die after 1 s idle
    for (const [path, body] of [
      ['/v3/auth/user/add', { name: 'root', password: 'rootpw' }],
      ['/v3/auth/user/grant', { user: 'root', role: 'root' }],
      ['/v3/auth/enable', {}],
    ] as const)
      expect((await post(etcd.url, path, body)).status).toBe(200);
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it("a client with credentials reads and writes; one without gets etcd's auth error", async () => {
    const authed = new EtcdClient({ endpoints: [etcd!.url], auth: { user: 'root', password: 'rootpw' } });
    const anonymous = new EtcdClient({ endpoints: [etcd!.url] });
    const wrong = new EtcdClient({ endpoints: [etcd!.url], auth: { user: 'root', password: 'nope' } });
    try {
      await authed.put('/auth/k', 'v');
      expect(text((await authed.get('/auth/k'))?.value)).toBe('v');
      const probe = (await post(etcd!.url, '/v3/auth/authenticate', { name: 'root', password: 'rootpw' })).json.token as string;
      await new Promise((r) => setTimeout(r, 3000)); // tokens expire (TTL 1 s, checked about once a second)
      const stale = await rawRequest(etcd!.url, 'POST', '/v3/kv/range', JSON.stringify({ key: 'YQ==' }), { authorization: probe });
      expect([stale.status, stale.json.code]).toEqual([401, 16]); // so the client's own token is dead too
      expect((await authed.put('/auth/k', 'v2')).header.revision).toBeGreaterThan(1n);
      const denied = (await anonymous.get('/auth/k').catch((e) => e)) as EtcdError;
      expect([denied.grpcCode, denied.etcdMessage]).toEqual([3, 'etcdserver: user name is empty']);
      const bad = (await wrong.get('/auth/k').catch((e) => e)) as EtcdError;
      expect(bad.etcdMessage).toBe('etcdserver: authentication failed, invalid user ID or password');
    } finally {
      authed.close();
      anonymous.close();
      wrong.close();
    }
  });
});
