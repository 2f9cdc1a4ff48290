/**
 * The same request bytes to Debian's etcd 3.4.23 and to the embedded registry, side by side: the HTTP status,
 * the gRPC code and etcd's message must agree (headers differ by nature: cluster and member IDs, revisions).
 * Each named case is one where the registry used to answer differently; the fuzzed run compares the status,
 * gRPC code and error message of 2,000 mutated requests (SAME_BYTES_SEED picks another sample).
 */
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcPackage } from '../../control/registry/wire/proto.js';
import { b64, rawRequest, rawWatch } from './raw.js';
import { embedded, etcd3423, type RunningServer } from './targets.js';
import { mutate } from '../registry/helpers.js';

let etcd: RunningServer | undefined;
let reg: RunningServer | undefined;
beforeAll(async () => {
  [etcd, reg] = await Promise.all([etcd3423.start(), embedded.start()]);
});
afterAll(async () => {
  await Promise.all([etcd?.stop(), reg?.stop()]);
});

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
    expect(e).toEqual({
      status: 429,
      body: {
        error: 'grpc: received message larger than max (3145739 vs. 2097152)',
        message: 'grpc: received message larger than max (3145739 vs. 2097152)',
        code: 8,
      },
    });
    expect(r).toEqual(e);
    // Between --max-request-bytes (1.5 MiB) and the transport limit (2 MiB) etcd's own check answers.
    const mid = JSON.stringify({ key: b64('/mid'), value: Buffer.alloc(1800 * 1024, 'x').toString('base64') });
    const m = await both('/v3/kv/put', mid);
    expect(m.etcd).toEqual({
      status: 400,
      body: { error: 'etcdserver: request is too large', message: 'etcdserver: request is too large', code: 3 },
    });
    expect(m.registry).toEqual(m.etcd);
  });

  it('the same 3 MiB put over gRPC: ResourceExhausted "grpc: received message larger than max (N vs. 2097152)"', async () => {
    const pb = (grpc.loadPackageDefinition(grpcPackage()) as any).etcdserverpb; // eslint-disable-line @typescript-eslint/no-explicit-any
    const put = (url: string) =>
      new Promise<string>((resolve) => {
        const kv = new pb.KV(url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
        kv.Put({ key: Buffer.from('/big'), value: Buffer.alloc(3 * 1024 * 1024, 'x') }, (err: grpc.ServiceError | null) => {
          kv.close();
          resolve(err ? `${err.code} ${err.details}` : 'ok');
        });
      });
    const [e, r] = await Promise.all([put(etcd!.url), put(reg!.url)]);
    expect(e).toBe('8 grpc: received message larger than max (3145739 vs. 2097152)');
    expect(r).toBe(e);
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
      ['/v3/kv/range', { key: b64('/a') }],
      ['/v3/kv/put', { key: b64('/a'), value: b64('b') }],
      ['/v3/kv/deleterange', { key: b64('/a') }],
      ['/v3/kv/txn', {}],
      ['/v3/kv/compaction', { revision: '1' }],
      ['/v3/lease/grant', { TTL: 5 }],
      ['/v3/lease/revoke', { ID: '1' }],
    ] as const) {
      const { etcd: e, registry: r } = await both(path, JSON.stringify(body), bogus);
      expect(e, path).toEqual(denied);
      expect(r, path).toEqual(e);
    }
    // An empty header is a token too (an empty one); lease reads do not look at the token.
    const empty = await both('/v3/kv/range', JSON.stringify({ key: b64('/a') }), { authorization: '' });
    expect(empty.etcd).toEqual(denied);
    expect(empty.registry).toEqual(empty.etcd);
    for (const [path, body] of [
      ['/v3/lease/timetolive', { ID: '1' }],
      ['/v3/lease/leases', {}],
    ] as const) {
      const { etcd: e, registry: r } = await both(path, JSON.stringify(body), bogus);
      expect(e.status, path).toBe(200);
      expect(r, path).toEqual(e);
    }
    const watches = await Promise.all(
      [etcd!, reg!].map((s) => rawWatch(s.url, { key: b64('/a') }, (ls) => ls.length > 0, 3000, undefined, bogus)),
    );
    const cancel = (ls: any[]) => {
      const { header: _h, ...rest } = ls[0].result;
      return rest;
    };
    expect(cancel(watches[0])).toEqual({
      watch_id: '-1',
      created: true,
      canceled: true,
      cancel_reason: 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token',
    });
    expect(cancel(watches[1])).toEqual(cancel(watches[0]));
  });
});

const TEMPLATES: Record<string, unknown> = {
  '/v3/kv/range': {
    key: b64('/p/'),
    range_end: b64('/p0'),
    limit: '1',
    revision: '2',
    keys_only: true,
    sort_order: 'DESCEND',
    sort_target: 'KEY',
  },
  '/v3/kv/put': { key: b64('/p/3'), value: b64('x'), prev_kv: true, ignore_value: false },
  '/v3/kv/deleterange': { key: b64('/p/'), range_end: b64('/p0'), prev_kv: true },
  '/v3/kv/txn': {
    compare: [{ key: b64('/p/3'), target: 'VALUE', result: 'EQUAL', value: b64('x') }],
    success: [{ request_put: { key: b64('/p/t'), value: b64('y') } }, { request_range: { key: b64('/p/3') } }],
    failure: [{ request_delete_range: { key: b64('/p/3') } }],
  },
  '/v3/kv/compaction': { revision: '1' },
  '/v3/lease/timetolive': { ID: '7', keys: true },
  '/v3/lease/revoke': { ID: '123' },
};

describe('same bytes, same answer: fuzzed', () => {
  it('2,000 mutated and random requests get the same HTTP status, gRPC code and message from both', { timeout: 240_000 }, async () => {
    const routes = Object.keys(TEMPLATES);
    const weird = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ maxLength: 8 }),
      fc.constantFrom(
        '',
        '!!',
        'AA==',
        '-1',
        '9223372036854775808',
        'DELETE',
        1.5,
        -1,
        1e300,
        null,
        true,
        'GREATER',
        'LEASE',
        'MOD',
        [97, 98],
      ),
    );
    const request = fc.oneof(
      fc
        .tuple(fc.constantFrom(...routes), fc.array(fc.nat(), { maxLength: 4 }), weird)
        .map(([route, p, rep]) => ({ route, text: JSON.stringify(mutate(TEMPLATES[route], p, rep)) })),
      fc.tuple(fc.constantFrom(...routes), fc.string({ maxLength: 20 })).map(([route, text]) => ({ route, text })),
      fc
        .tuple(fc.constantFrom(...routes), fc.nat(60))
        .map(([route, cut]) => ({ route, text: JSON.stringify(TEMPLATES[route]).slice(0, cut) })),
    );
    const differ: string[] = [];
    const etcdCrashes: string[] = [];
    for (const { route, text } of fc.sample(request, { numRuns: 2000, seed: Number(process.env.SAME_BYTES_SEED ?? 2026) })) {
      const [e, r] = await Promise.all(
        [etcd!, reg!].map((s) =>
          rawRequest(s.url, 'POST', route, text).catch((err: Error) => ({ status: -1, text: err.message, json: undefined })),
        ),
      );
      const [a, b] = [e, r].map((x) => `${x.status} ${x.json?.code ?? ''} ${x.status === 200 ? '' : x.json?.message}`);
      expect(r.status, `registry did not answer ${route} ${text}`).not.toBe(-1);
      // etcd 3.4.23 itself dies on some bodies (a Range with sort_target -1 panics in apply.go): note it, start it again.
      if (e.status === -1) {
        etcdCrashes.push(`${route} ${text.slice(0, 120)}`);
        await etcd!.restart();
        continue;
      }
      if (a !== b) differ.push(`${route} ${text.slice(0, 120)}: etcd ${a} ${e.text.slice(0, 120)} / registry ${b} ${r.text.slice(0, 120)}`);
    }
    expect(differ).toEqual([]);
    if (etcdCrashes.length > 0)
      console.log(`etcd 3.4.23 died on ${etcdCrashes.length} of these requests (restarted each time):\n${etcdCrashes.join('\n')}`);
  });
});
