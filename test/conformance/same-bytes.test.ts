/**
 * The same request bytes to Debian's etcd 3.4.23 and to the embedded registry, side by side: the HTTP status,
 * the gRPC code and etcd's message must agree (headers differ by nature: cluster and member IDs, revisions).
 * Each case is one where the registry used to answer differently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, rawRequest, rawWatch } from './raw.js';
import { embedded, etcd3423, type RunningServer } from './targets.js';

let etcd: RunningServer | undefined;
let reg: RunningServer | undefined;
beforeAll(async () => { [etcd, reg] = await Promise.all([etcd3423.start(), embedded.start()]); });
afterAll(async () => { await Promise.all([etcd?.stop(), reg?.stop()]); });

/** What must agree: status, and for errors the body; for successes the body without its header. */
async function answer(url: string, path: string, body: string, headers: Record<string, string> = {}) {
  const r = await rawRequest(url, 'POST', path, body, headers);
  if (r.status !== 200) return { status: r.status, body: r.json ?? r.text };
  const { header: _h, ...rest } = (r.json ?? {}) as Record<string, unknown>;
  return { status: r.status, body: rest };
}

async function both(path: string, body: string, headers?: Record<string, string>) {
  const [e, r] = await Promise.all([answer(etcd!.url, path, body, headers), answer(reg!.url, path, body, headers)]);
  return { etcd: e, registry: r };
}

describe('same bytes, same answer: etcd 3.4.23 and the embedded registry', () => {
  it('a body carrying a 3 MiB value: 429 "grpc: received message larger than max (N vs. 2097152)"', async () => {
    const body = JSON.stringify({ key: b64('/big'), value: Buffer.alloc(3 * 1024 * 1024, 'x').toString('base64') });
    const { etcd: e, registry: r } = await both('/v3/kv/put', body);
    expect(e).toEqual({ status: 429, body: { error: 'grpc: received message larger than max (3145739 vs. 2097152)', message: 'grpc: received message larger than max (3145739 vs. 2097152)', code: 8 } });
    expect(r).toEqual(e);
    // Between --max-request-bytes (1.5 MiB) and the transport limit (2 MiB) etcd's own check answers.
    const mid = JSON.stringify({ key: b64('/mid'), value: Buffer.alloc(1800 * 1024, 'x').toString('base64') });
    const m = await both('/v3/kv/put', mid);
    expect(m.etcd).toEqual({ status: 400, body: { error: 'etcdserver: request is too large', message: 'etcdserver: request is too large', code: 3 } });
    expect(m.registry).toEqual(m.etcd);
  });

  it('a txn operation with no known request field: 400 "etcdserver: key not found", nothing written', async () => {
    for (const op of [{}, { request_foo: { key: b64('/t') } }, { request_put: null }]) {
      const body = JSON.stringify({ success: [{ request_put: { key: b64('/txn-ok'), value: b64('v') } }, op] });
      const { etcd: e, registry: r } = await both('/v3/kv/txn', body);
      expect(e).toEqual({ status: 400, body: { error: 'etcdserver: key not found', message: 'etcdserver: key not found', code: 3 } });
      expect(r).toEqual(e);
    }
    const nested = JSON.stringify({ success: [{ request_txn: { failure: [{}] } }] });
    const n = await both('/v3/kv/txn', nested);
    expect(n.registry).toEqual(n.etcd);
    const { etcd: e, registry: r } = await both('/v3/kv/range', JSON.stringify({ key: b64('/txn-ok') }));
    expect(e.body).toEqual({});
    expect(r).toEqual(e);
  });

  it("malformed JSON: Go's decoder texts; text after the first value is ignored, as json.Decoder does", async () => {
    for (const body of ['x'.repeat(1000), '{"key":', '[1,2', 'nul', '{"key":"L2E="}trailing', '"str"', '7']) {
      const { etcd: e, registry: r } = await both('/v3/kv/range', body);
      expect(r, body.slice(0, 20)).toEqual(e);
    }
  });

  it('an Authorization header while auth is off: 401 "etcdserver: invalid auth token" where etcd checks it', async () => {
    const bogus = { authorization: 'bogus' };
    const denied = { status: 401, body: { error: 'etcdserver: invalid auth token', message: 'etcdserver: invalid auth token', code: 16 } };
    for (const [path, body] of [
      ['/v3/kv/range', { key: b64('/a') }], ['/v3/kv/put', { key: b64('/a'), value: b64('b') }], ['/v3/kv/deleterange', { key: b64('/a') }],
      ['/v3/kv/txn', {}], ['/v3/kv/compaction', { revision: '1' }], ['/v3/lease/grant', { TTL: 5 }], ['/v3/lease/revoke', { ID: '1' }],
    ] as const) {
      const { etcd: e, registry: r } = await both(path, JSON.stringify(body), bogus);
      expect(e, path).toEqual(denied);
      expect(r, path).toEqual(e);
    }
    // An empty header is a token too (an empty one); lease reads do not look at the token.
    const empty = await both('/v3/kv/range', JSON.stringify({ key: b64('/a') }), { authorization: '' });
    expect(empty.etcd).toEqual(denied);
    expect(empty.registry).toEqual(empty.etcd);
    for (const [path, body] of [['/v3/lease/timetolive', { ID: '1' }], ['/v3/lease/leases', {}]] as const) {
      const { etcd: e, registry: r } = await both(path, JSON.stringify(body), bogus);
      expect(e.status, path).toBe(200);
      expect(r, path).toEqual(e);
    }
    const watches = await Promise.all([etcd!, reg!].map((s) => rawWatch(s.url, { key: b64('/a') }, (ls) => ls.length > 0, 3000, undefined, bogus)));
    const cancel = (ls: any[]) => { const { header: _h, ...rest } = ls[0].result; return rest; };
    expect(cancel(watches[0])).toEqual({ watch_id: '-1', created: true, canceled: true, cancel_reason: 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token' });
    expect(cancel(watches[1])).toEqual(cancel(watches[0]));
  });
});
