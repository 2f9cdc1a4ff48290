/** The exact JSON a server sends: proto names, int64 as strings, base64, zero values omitted, etcd's error bodies. */
import { expect, it } from 'vitest';
import type { SuiteContext } from './suite.js';
import { b64, post, rawRequest, rawWatch } from './raw.js';
import { uniquePrefix } from './targets.js';

const INT64 = /^-?\d+$/;
const expectHeader = (h: any) => {
  expect(Object.keys(h).sort()).toEqual(['cluster_id', 'member_id', 'raft_term', 'revision']);
  for (const v of Object.values(h)) expect(v).toMatch(INT64);
};
/** 3.4/3.5: {"error","message","code"}; 3.6: {"code","message"}. Either is fine; the code and message must be etcd's. */
const expectError = (json: any, code: number, message: string) => {
  expect(json.code).toBe(code);
  expect(json.message).toBe(message);
  if ('error' in json) expect(json.error).toBe(message);
};

export function wireTests(ctx: SuiteContext): void {
  it('wire: empty range has no kvs/count; put and range use base64 and int64 strings', async () => {
    const k = `${uniquePrefix('wire')}k`;
    const empty = await post(ctx.url, '/v3/kv/range', { key: b64(k) });
    expect(empty.status).toBe(200);
    expect(Object.keys(empty.json)).toEqual(['header']);
    expectHeader(empty.json.header);
    const put = await post(ctx.url, '/v3/kv/put', { key: b64(k), value: b64('v') });
    expect(Object.keys(put.json)).toEqual(['header']);
    const rev = put.json.header.revision;
    const got = await post(ctx.url, '/v3/kv/range', { key: b64(k) });
    expect(got.json.kvs).toEqual([{ key: b64(k), create_revision: rev, mod_revision: rev, version: '1', value: b64('v') }]);
    expect(got.json.count).toBe('1');
    const gone = await post(ctx.url, '/v3/kv/deleterange', { key: b64(`${k}-nothing`) });
    expect(Object.keys(gone.json)).toEqual(['header']);
  });

  it('wire: a failed txn has no "succeeded"; a successful one says true', async () => {
    const k = `${uniquePrefix('wiretxn')}k`;
    const body = {
      compare: [{ key: b64(k), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key: b64(k), value: b64('x') } }],
    };
    const first = await post(ctx.url, '/v3/kv/txn', body);
    expect(first.json.succeeded).toBe(true);
    expect(first.json.responses).toEqual([{ response_put: { header: { revision: first.json.header.revision } } }]);
    const second = await post(ctx.url, '/v3/kv/txn', body);
    expect(second.status).toBe(200);
    expect('succeeded' in second.json).toBe(false);
    expect('responses' in second.json).toBe(false);
  });

  it('wire: leases as strings; unknown leases answer TTL -1, an empty keepalive, and a NotFound error', async () => {
    const grant = await post(ctx.url, '/v3/lease/grant', { TTL: 1 });
    expect(grant.json.TTL).toBe('2');
    expect(grant.json.ID).toMatch(INT64);
    await post(ctx.url, '/v3/lease/revoke', { ID: grant.json.ID });
    const ttl = await post(ctx.url, '/v3/lease/timetolive', { ID: '999' });
    expect([ttl.status, ttl.json.ID, ttl.json.TTL]).toEqual([200, '999', '-1']);
    const keep = await post(ctx.url, '/v3/lease/keepalive', { ID: '999' });
    expect(keep.status).toBe(200);
    const line = JSON.parse(keep.text.trim().split('\n')[0]);
    expect(Object.keys(line.result).sort()).toEqual(['ID', 'header']);
    const revoke = await post(ctx.url, '/v3/lease/revoke', { ID: '999' });
    expect(revoke.status).toBe(404);
    expectError(revoke.json, 5, 'etcdserver: requested lease not found');
  });

  it('wire: error bodies carry the gRPC code and etcd message; wrong method and path are refused', async () => {
    const future = await post(ctx.url, '/v3/kv/range', { key: b64('x'), revision: '1099511627776' });
    expect(future.status).toBe(400);
    expectError(future.json, 11, 'etcdserver: mvcc: required revision is a future revision');
    const noKey = await post(ctx.url, '/v3/kv/put', { value: b64('x') });
    expect(noKey.status).toBe(400);
    expectError(noKey.json, 3, 'etcdserver: key is not provided');
    expect((await rawRequest(ctx.url, 'GET', '/v3/kv/range')).status).toBe(405);
    expect((await post(ctx.url, '/v3/kv/nonexistent', {})).status).toBe(404);
  });

  it('wire: watch sends the created ack first; PUT events have no "type", DELETE kvs only key and mod_revision', async () => {
    const p = uniquePrefix('wirewatch');
    const k = `${p}k`;
    const lines = await rawWatch(
      ctx.url,
      { key: b64(p), range_end: b64(p.slice(0, -1) + '0'), prev_kv: true },
      (ls) => ls.some((l) => l.result?.events?.some((e: any) => e.type === 'DELETE')),
      5000,
      async () => {
        await post(ctx.url, '/v3/kv/put', { key: b64(k), value: b64('v') });
        await post(ctx.url, '/v3/kv/deleterange', { key: b64(k) });
      },
    );
    expect(Object.keys(lines[0])).toEqual(['result']);
    expect(lines[0].result.created).toBe(true);
    expectHeader(lines[0].result.header);
    expect('watch_id' in lines[0].result).toBe(false); // watch id 0 is omitted
    const events = lines.slice(1).flatMap((l) => l.result.events);
    expect(events).toHaveLength(2);
    expect(Object.keys(events[0])).toEqual(['kv']);
    expect(events[1].type).toBe('DELETE');
    expect(Object.keys(events[1].kv).sort()).toEqual(['key', 'mod_revision']);
    expect(events[1].prev_kv.value).toBe(b64('v'));
  });
}
