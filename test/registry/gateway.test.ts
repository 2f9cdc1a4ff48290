import { describe, expect, it } from 'vitest';
import { b64, inProcessRegistry, post, unb64, watch } from './helpers.js';

const reg = inProcessRegistry('vxreg-gw-');

describe('registry HTTP/JSON gateway', () => {
  it('put/range/txn answer with etcd 3.4 shapes (strings for int64, omitted zero values)', async () => {
    const put = await post(reg.url, '/v3/kv/put', { key: b64('/g/a'), value: b64('1') });
    expect(put.status).toBe(200);
    expect(Object.keys(put.json.header)).toEqual(['cluster_id', 'member_id', 'revision', 'raft_term']);
    const rev = Number(put.json.header.revision);
    const again = await post(reg.url, '/v3/kv/put', { key: b64('/g/a'), value: b64('2'), prev_kv: true });
    expect(again.json.prev_kv).toEqual({
      key: b64('/g/a'),
      create_revision: String(rev),
      mod_revision: String(rev),
      version: '1',
      value: b64('1'),
    });
    const empty = await post(reg.url, '/v3/kv/range', { key: b64('/nothing') });
    expect(Object.keys(empty.json)).toEqual(['header']);
    const cas = {
      compare: [{ key: b64('/g/c'), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key: b64('/g/c'), value: b64('x') } }],
      failure: [{ request_range: { key: b64('/g/c') } }],
    };
    const won = await post(reg.url, '/v3/kv/txn', cas);
    expect(won.json.succeeded).toBe(true);
    expect(won.json.responses).toEqual([{ response_put: { header: { revision: won.json.header.revision } } }]);
    const lost = await post(reg.url, '/v3/kv/txn', cas);
    expect('succeeded' in lost.json).toBe(false);
    expect(unb64(lost.json.responses[0].response_range.kvs[0].value)).toBe('x');
    const prefix = await post(reg.url, '/v3/kv/range', { key: b64('/g/'), range_end: b64('/g0'), keys_only: true });
    expect(prefix.json.kvs.map((kv: { key: string }) => unb64(kv.key))).toEqual(['/g/a', '/g/c']);
    expect(prefix.json.count).toBe('2');
  });

  it('bad input gets etcd error bodies and 4xx, and changes nothing', async () => {
    const before = (await post(reg.url, '/v3/kv/range', { key: b64('a') })).json.header.revision;
    const cases: [string, unknown, number, number, RegExp][] = [
      ['/v3/kv/put', '{"key":', 400, 3, /./],
      ['/v3/kv/put', { key: '***', value: b64('v') }, 400, 3, /illegal base64/],
      ['/v3/kv/put', { key: b64('k'), value: b64('v'), lease: '12345' }, 404, 5, /requested lease not found/],
      ['/v3/kv/put', { value: b64('v') }, 400, 3, /key is not provided/],
      [
        '/v3/kv/txn',
        { success: Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b64('t' + i) } })) },
        400,
        3,
        /too many operations in txn request/,
      ],
      ['/v3/kv/put', { key: b64('big'), value: Buffer.alloc(1600 * 1024).toString('base64') }, 400, 3, /request is too large/],
      ['/v3/kv/put', 'x'.repeat(3 * 1024 * 1024), 400, 3, /invalid character 'x' looking for beginning of value/],
      [
        '/v3/kv/put',
        { key: b64('big'), value: Buffer.alloc(3 * 1024 * 1024).toString('base64') },
        429,
        8,
        /received message larger than max \(3145738 vs\. 2097152\)/,
      ],
      ['/v3/lease/revoke', { ID: '777' }, 404, 5, /requested lease not found/],
    ];
    for (const [route, body, status, code, msg] of cases) {
      const r = await post(reg.url, route, body);
      expect([route, r.status]).toEqual([route, status]);
      expect(Object.keys(r.json)).toEqual(['error', 'message', 'code']);
      expect(r.json.code).toBe(code);
      expect(r.json.error).toMatch(msg);
    }
    const dup = await post(reg.url, '/v3/lease/grant', { TTL: 60, ID: 4242 });
    expect(dup.json.ID).toBe('4242');
    const again = await post(reg.url, '/v3/lease/grant', { TTL: 60, ID: 4242 });
    expect([again.status, again.json.code]).toEqual([412, 9]);
    expect((await post(reg.url, '/v3/kv/nope', {})).status).toBe(404);
    const after = (await post(reg.url, '/v3/kv/range', { key: b64('a') })).json.header.revision;
    expect(after).toBe(before);
  });

  it('leases: grant raises TTL to 2, timetolive lists keys, keepalive streams one line per message, revoke deletes keys', async () => {
    const g = await post(reg.url, '/v3/lease/grant', { TTL: 1 });
    expect(g.json.TTL).toBe('2');
    const id = g.json.ID as string;
    expect(BigInt(id) > 0n).toBe(true);
    await post(reg.url, '/v3/kv/put', { key: b64('/l/k'), value: b64('v'), lease: id });
    const ttl = await post(reg.url, '/v3/lease/timetolive', { ID: id, keys: true });
    expect(ttl.json.grantedTTL).toBe('2');
    expect(ttl.json.keys).toEqual([b64('/l/k')]);
    const ka = await post(reg.url, '/v3/lease/keepalive', `{"ID":"${id}"}{"ID":"1"}`);
    const lines = ka.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.result.ID, l.result.TTL])).toEqual([
      [id, '2'],
      ['1', undefined],
    ]);
    const unknown = await post(reg.url, '/v3/lease/timetolive', { ID: '1' });
    expect([unknown.status, unknown.json.TTL]).toEqual([200, '-1']);
    const list = await post(reg.url, '/v3/kv/lease/leases', {});
    expect(list.json.leases.map((l: { ID: string }) => l.ID)).toContain(id);
    const rv = await post(reg.url, '/v3/kv/lease/revoke', { ID: id });
    expect(rv.status).toBe(200);
    expect((await post(reg.url, '/v3/kv/range', { key: b64('/l/k') })).json.kvs).toBeUndefined();
  });

  it('watch: created ack first, one response per revision, DELETE typed and PUT untyped, replay from a revision', async () => {
    const start = Number((await post(reg.url, '/v3/kv/put', { key: b64('/w/a'), value: b64('1') })).json.header.revision);
    const w = watch(reg.url, { key: b64('/w/'), range_end: b64('/w0'), prev_kv: true });
    expect(await w.until((l) => l.length >= 1)).toBe(true);
    expect(w.lines[0].result.created).toBe(true);
    expect(w.lines[0].result.watch_id).toBeUndefined();
    await post(reg.url, '/v3/kv/txn', {
      success: [{ request_put: { key: b64('/w/b'), value: b64('3') } }, { request_delete_range: { key: b64('/w/a') } }],
    });
    expect(await w.until((l) => l.length >= 2)).toBe(true);
    const evs = w.lines[1].result.events;
    expect(evs[0].type).toBeUndefined();
    expect(evs[1]).toEqual({
      type: 'DELETE',
      kv: { key: b64('/w/a'), mod_revision: String(start + 1) },
      prev_kv: { key: b64('/w/a'), create_revision: String(start), mod_revision: String(start), version: '1', value: b64('1') },
    });
    w.close();
    const replay = watch(reg.url, { key: b64('/w/'), range_end: b64('/w0'), start_revision: String(start) });
    expect(await replay.until((l) => l.length >= 2)).toBe(true);
    expect(replay.lines[1].result.events.map((e: { kv: { mod_revision: string } }) => e.kv.mod_revision)).toEqual([
      String(start),
      String(start + 1),
      String(start + 1),
    ]);
    replay.close();
  });

  it('watch from a future revision stays quiet until the store reaches it; cancel and progress on the same stream', async () => {
    const now = Number((await post(reg.url, '/v3/kv/range', { key: b64('/f') })).json.header.revision);
    const w = watch(reg.url, { key: b64('/f'), start_revision: String(now + 2), watch_id: '7' });
    await post(reg.url, '/v3/kv/put', { key: b64('/f'), value: b64('early') });
    await post(reg.url, '/v3/kv/put', { key: b64('/f'), value: b64('due') });
    expect(await w.until((l) => l.length >= 2)).toBe(true);
    expect(w.lines[0].result).toMatchObject({ watch_id: '7', created: true });
    expect(w.lines[1].result.events.map((e: { kv: { value: string } }) => unb64(e.kv.value))).toEqual(['due']);
    w.send({ progress_request: {} });
    w.send({ cancel_request: { watch_id: '7' } });
    expect(await w.until((l) => l.length >= 4)).toBe(true);
    expect(w.lines[2].result.watch_id).toBe('-1');
    expect(w.lines[3].result).toMatchObject({ watch_id: '7', canceled: true });
    w.close();
  });

  it('watch on a compacted revision: created, then canceled with compact_revision; compacted reads fail', async () => {
    const r = Number((await post(reg.url, '/v3/kv/put', { key: b64('/c/x'), value: b64('1') })).json.header.revision);
    await post(reg.url, '/v3/kv/put', { key: b64('/c/x'), value: b64('2') });
    const c = await post(reg.url, '/v3/kv/compaction', { revision: String(r + 1) });
    expect(c.status).toBe(200);
    const old = await post(reg.url, '/v3/kv/range', { key: b64('/c/x'), revision: String(r) });
    expect([old.status, old.json.code, old.json.error]).toEqual([400, 11, 'etcdserver: mvcc: required revision has been compacted']);
    const w = watch(reg.url, { key: b64('/c/x'), start_revision: String(r) });
    expect(await w.until((l) => l.length >= 2)).toBe(true);
    expect(w.lines[0].result.created).toBe(true);
    expect(w.lines[1].result).toMatchObject({ canceled: true, compact_revision: String(r + 1) });
    expect(w.lines[1].result.header.revision).toBeUndefined();
    w.close();
  });

  it('serves /version, /health and /metrics', async () => {
    const v = await fetch(reg.url + '/version');
    expect(await v.json()).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    expect(await (await fetch(reg.url + '/health')).json()).toEqual({ health: 'true' });
    const m = await (await fetch(reg.url + '/metrics')).text();
    expect(m).toMatch(/vxtun_registry_requests_total\{method="Put",code="0"\} \d+/);
    expect(m).toMatch(/vxtun_registry_wal_fsync_seconds_count \d+/);
    expect((await fetch(reg.url + '/v3/kv/range')).status).toBe(405);
  });
});
