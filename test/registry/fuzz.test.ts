import { describe, expect, it } from 'vitest';
import http from 'node:http';
import fc from 'fast-check';
import { b64, inProcessRegistry, mutate, post } from './helpers.js';

/**
 * Random and mutated requests to every route: the server never crashes, never answers a unary route with 5xx,
 * always uses etcd's error body for errors, and a rejected or read-only request leaves the store unchanged.
 */
const reg = inProcessRegistry('vxreg-fuzz-', async (url) => {
  await post(url, '/v3/lease/grant', { TTL: 600, ID: 7 });
  for (const k of ['a', 'b', '/p/1', '/p/2'])
    await post(url, '/v3/kv/put', { key: b64(k), value: b64('seed-' + k), lease: k === 'a' ? 7 : 0 });
});

const READ_ONLY = new Set(['/v3/kv/range', '/v3/lease/timetolive', '/v3/lease/leases', '/v3/kv/lease/timetolive', '/v3/lease/keepalive']);
const TEMPLATES: Record<string, unknown> = {
  '/v3/kv/range': { key: b64('/p/'), range_end: b64('/p0'), limit: '1', revision: '2', keys_only: true, sort_order: 'DESCEND' },
  '/v3/kv/put': { key: b64('/p/3'), value: b64('x'), lease: '7', prev_kv: true, ignore_value: false },
  '/v3/kv/deleterange': { key: b64('/p/'), range_end: b64('/p0'), prev_kv: true },
  '/v3/kv/txn': {
    compare: [{ key: b64('a'), target: 'VALUE', result: 'EQUAL', value: b64('seed-a') }],
    success: [{ request_put: { key: b64('/p/t'), value: b64('y') } }, { request_range: { key: b64('a') } }],
    failure: [{ request_delete_range: { key: b64('b') } }],
  },
  '/v3/kv/compaction': { revision: '3' },
  '/v3/lease/grant': { TTL: '30', ID: '99' },
  '/v3/lease/revoke': { ID: '7' },
  '/v3/lease/timetolive': { ID: '7', keys: true },
  '/v3/lease/leases': {},
  '/v3/lease/keepalive': { ID: '7' },
  '/v3/kv/lease/timetolive': { ID: '7' },
};
const ROUTES = Object.keys(TEMPLATES);

const weird = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string(),
  fc.constantFrom('', '!!', 'AA==', '-1', '9223372036854775808', 'DELETE', 1.5, -1, 1e300, null, true),
);
const body = fc.oneof(
  fc
    .tuple(fc.constantFrom(...ROUTES), fc.array(fc.nat(), { maxLength: 4 }), weird)
    .map(([route, path, rep]) => ({ route, text: JSON.stringify(mutate(TEMPLATES[route], path, rep)) })),
  fc.tuple(fc.constantFrom(...ROUTES), fc.jsonValue({ maxDepth: 3 })).map(([route, j]) => ({ route, text: JSON.stringify(j) ?? 'null' })),
  fc.tuple(fc.constantFrom(...ROUTES), fc.string({ maxLength: 40 })).map(([route, s]) => ({ route, text: s })),
  fc.tuple(fc.constantFrom(...ROUTES), fc.nat(40)).map(([route, cut]) => ({ route, text: JSON.stringify(TEMPLATES[route]).slice(0, cut) })),
);

async function state(): Promise<string> {
  const all = await post(reg.url, '/v3/kv/range', { key: 'AA==', range_end: 'AA==' });
  const leases = await post(reg.url, '/v3/lease/leases', {});
  return JSON.stringify([all.json.header.revision, all.json.kvs, leases.json.leases]);
}

describe('registry fuzz', () => {
  it('random and mutated gateway requests never crash it or change state they should not', async () => {
    await fc.assert(
      fc.asyncProperty(body, async ({ route, text }) => {
        const before = await state();
        const r = await post(reg.url, route, text);
        // A granted lease would expire in the middle of a later check (its revocation is a state change): revoke it now.
        if (route === '/v3/lease/grant' && r.status === 200 && r.json.ID !== '7')
          await post(reg.url, '/v3/lease/revoke', { ID: r.json.ID });
        // Like etcd's gateway, the streaming keepalive route reports undecodable bodies as 500 with gRPC code 2.
        if (route === '/v3/lease/keepalive' && r.status === 500) expect(r.json.code).toBe(2);
        else expect(r.status, `${route} ${text} -> ${r.body}`).toBeLessThan(500);
        if (r.status !== 200) {
          expect(Object.keys(r.json ?? {}), r.body).toEqual(['error', 'message', 'code']);
          expect(await state(), `${route} ${text} failed but changed state`).toBe(before);
        } else if (READ_ONLY.has(route)) {
          expect(await state(), `${route} ${text} is read-only`).toBe(before);
        }
      }),
      { numRuns: 400, seed: 4242 },
    );
    expect((await fetch(reg.url + '/health')).status).toBe(200);
  });

  it('random bodies on /v3/watch get a created ack or an error, and the server keeps serving', async () => {
    const stream = (text: string) =>
      new Promise<string>((resolve) => {
        let out = '';
        const req = http.request(reg.url + '/v3/watch', { method: 'POST' }, (res) => {
          res.on('data', (c: Buffer) => {
            out += c.toString();
          });
          res.on('end', () => resolve(out));
          res.on('error', () => resolve(out));
        });
        req.on('error', () => resolve(out));
        req.end(text);
        setTimeout(() => {
          req.destroy();
          resolve(out);
        }, 150);
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify({ create_request: j })),
          fc.string({ maxLength: 30 }),
          fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j) ?? ''),
        ),
        async (text) => {
          const out = await stream(text);
          for (const line of out.split('\n').filter(Boolean)) {
            const j = JSON.parse(line);
            expect('result' in j || 'error' in j).toBe(true);
          }
        },
      ),
      { numRuns: 80, seed: 7 },
    );
    expect((await fetch(reg.url + '/health')).status).toBe(200);
  });
});
