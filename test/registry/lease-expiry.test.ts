import { describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import { b64, ensureBuilt, inProcessRegistry, post, spawnRegistry, tempDir, watch } from './helpers.js';

const reg = inProcessRegistry('vxreg-lease-');

describe('lease expiry', () => {
  it('keys vanish within TTL + 1 s after keepalives stop, and watchers see DELETE events', async () => {
    const g = await post(reg.url, '/v3/lease/grant', { TTL: 2 });
    const id = g.json.ID as string;
    const keys = ['/coreos.com/network/subnets/10.5.1.0-24', '/coreos.com/network/subnets/10.5.2.0-24'];
    for (const k of keys) await post(reg.url, '/v3/kv/put', { key: b64(k), value: b64('{"PublicIP":"127.0.0.1"}'), lease: id });
    const w = watch(reg.url, { key: b64('/coreos.com/network/subnets/'), range_end: b64('/coreos.com/network/subnets0') });
    await w.until((l) => l.length >= 1);

    // Keepalives hold the lease past its TTL.
    let stopped = 0;
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 700));
      const ka = await post(reg.url, '/v3/lease/keepalive', { ID: id });
      stopped = Date.now();
      expect(JSON.parse(ka.body).result.TTL).toBe('2');
    }
    expect((await post(reg.url, '/v3/kv/range', { key: b64(keys[0]) })).json.kvs).toHaveLength(1);

    const deleted = await w.until(
      (l) => l.filter((x) => x.result.events?.some((e: { type?: string }) => e.type === 'DELETE')).length >= 1,
      4000,
    );
    const elapsed = Date.now() - stopped;
    expect(deleted).toBe(true);
    expect(elapsed).toBeLessThanOrEqual(3000);
    const del = w.lines.find((x) => x.result.events?.[0]?.type === 'DELETE').result;
    expect(del.events.map((e: { type: string; kv: { key: string } }) => [e.type, e.kv.key])).toEqual(keys.map((k) => ['DELETE', b64(k)]));
    expect((await post(reg.url, '/v3/kv/range', { key: b64('/coreos.com/'), range_end: b64('/coreos.com0') })).json.kvs).toBeUndefined();
    const ttl = await post(reg.url, '/v3/lease/timetolive', { ID: id });
    expect(ttl.json.TTL).toBe('-1');
    const ka = await post(reg.url, '/v3/lease/keepalive', { ID: id });
    expect(JSON.parse(ka.body).result.TTL).toBeUndefined();
    w.close();
  });

  it('a lease survives a kill -9 and restarts at its full TTL, then expires', async () => {
    ensureBuilt();
    const d = await tempDir('vxreg-lease9-');
    let p = await spawnRegistry(d);
    try {
      const id = (await post(p.url, '/v3/lease/grant', { TTL: 3 })).json.ID as string;
      await post(p.url, '/v3/kv/put', { key: b64('/k'), value: b64('v'), lease: id });
      await new Promise((r) => setTimeout(r, 1500));
      await p.kill9();
      p = await spawnRegistry(d);
      const ttl = await post(p.url, '/v3/lease/timetolive', { ID: id, keys: true });
      expect(ttl.json.grantedTTL).toBe('3');
      expect(Number(ttl.json.TTL)).toBeGreaterThanOrEqual(2);
      expect(ttl.json.keys).toEqual([b64('/k')]);
      const w = watch(p.url, { key: b64('/k') });
      expect(await w.until((l) => l.some((x) => x.result.events?.[0]?.type === 'DELETE'), 5000)).toBe(true);
      w.close();
      expect(p.log.some((l) => l.includes('lease expired'))).toBe(true);
      // SIGTERM stops it cleanly: exit status 0 after closing the log.
      expect(await p.stop()).toBe(0);
      expect(p.log.some((l) => l.includes('"msg":"registry stopped"'))).toBe(true);
    } finally {
      await p.kill9();
      await fs.rm(d, { recursive: true, force: true });
    }
  });
});
