/**
 * The registry under hostile clients, run as its own process so its memory can be read (/proc VmHWM, the peak
 * resident size): 8,000 malformed HTTP/JSON requests, 500 malformed raw HTTP byte streams, 2,000 malformed gRPC
 * calls, oversized bodies, 300 slowloris connections and a flood of 3,000 watches nobody reads. Throughout, an
 * honest client keeps writing and reading its own keys. Checked: the process never dies, every malformed request
 * is refused with a 4xx (or a gRPC error status), the seeded state is untouched, the honest client never fails or
 * waits long, and the peak memory stays bounded.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import fs from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, ensureBuilt, post, spawnRegistry, tempDir, type RegistryProcess } from '../registry/helpers.js';

const PEAK_RSS_LIMIT_MB = 700;
let reg: RegistryProcess;
let dir = '';

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('vxreg-abuse-');
  reg = await spawnRegistry(dir);
  await post(reg.url, '/v3/lease/grant', { TTL: 3600, ID: 7 });
  for (let i = 0; i < 20; i++) await post(reg.url, '/v3/kv/put', { key: b64(`/seed/${i}`), value: b64(`v${i}`), lease: i === 0 ? 7 : 0 });
}, 60_000);
afterAll(async () => {
  await reg?.kill9();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function fingerprint(): Promise<string> {
  const kvs = await post(reg.url, '/v3/kv/range', { key: b64('/seed/'), range_end: b64('/seed0') });
  const leases = await post(reg.url, '/v3/lease/leases', {});
  const ttl = await post(reg.url, '/v3/lease/timetolive', { ID: 7, keys: true });
  return JSON.stringify([kvs.json.kvs, leases.json.leases, ttl.json.keys]);
}

async function peakRssMb(): Promise<number> {
  const status = await fs.readFile(`/proc/${reg.proc.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** An honest client writing and reading back its own keys until stopped; bounded in count. */
function honestClient() {
  let stop = false;
  const stats = { ops: 0, failures: [] as string[], maxMs: 0 };
  const done = (async () => {
    for (let i = 0; i < 100_000 && !stop; i++) {
      const t = Date.now();
      try {
        const put = await post(reg.url, '/v3/kv/put', { key: b64(`/honest/${i % 50}`), value: b64(`h${i}`) });
        const got = await post(reg.url, '/v3/kv/range', { key: b64(`/honest/${i % 50}`) });
        if (put.status !== 200 || Buffer.from(got.json.kvs[0].value, 'base64').toString() !== `h${i}`)
          stats.failures.push(`${put.status} ${got.body}`);
      } catch (err) {
        stats.failures.push((err as Error).message);
      }
      stats.ops++;
      stats.maxMs = Math.max(stats.maxMs, Date.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    stats,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** Runs `n` tasks with `width` in flight. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Each route with a valid body and the fields of its own message, by kind. */
const ROUTES: Record<string, { body: Record<string, unknown>; bytes: string[]; ints: string[] }> = {
  '/v3/kv/range': {
    body: { key: b64('/seed/'), range_end: b64('/seed0'), revision: '2' },
    bytes: ['key', 'range_end'],
    ints: ['revision', 'limit'],
  },
  '/v3/kv/put': { body: { key: b64('/seed/1'), value: b64('x'), lease: '7' }, bytes: ['key', 'value'], ints: ['lease'] },
  '/v3/kv/deleterange': { body: { key: b64('/seed/'), range_end: b64('/seed0') }, bytes: ['key', 'range_end'], ints: [] },
  '/v3/kv/txn': {
    body: {
      compare: [{ key: b64('/seed/1'), target: 'VALUE', value: b64('v1') }],
      success: [{ request_delete_range: { key: b64('/seed/'), range_end: b64('/seed0') } }],
    },
    bytes: [],
    ints: [],
  },
  '/v3/kv/compaction': { body: { revision: '2' }, bytes: [], ints: ['revision'] },
  '/v3/lease/grant': { body: { TTL: '5', ID: '99' }, bytes: [], ints: ['TTL', 'ID'] },
  '/v3/lease/revoke': { body: { ID: '7' }, bytes: [], ints: ['ID'] },
  '/v3/lease/timetolive': { body: { ID: '7', keys: true }, bytes: [], ints: ['ID'] },
};
const PATHS = Object.keys(ROUTES);
const BAD_BYTES = [12, true, ['a'], [256], { a: 1 }, '!!!', 'a', '@@=='];
const BAD_INTS = ['x', 1.5, '1e3', '99999999999999999999', [], {}, true];
const BAD_TXN = [
  { compare: [{ target: 'VALUE' }] },
  { compare: [{ key: 5 }] },
  { success: [{}] },
  { success: [{ request_put: { value: b64('x') } }] },
  { failure: 'x' },
  { compare: [{ key: b64('/seed/1'), target: 'NOPE' }] },
];

/** Bodies that can never be a valid request: each is refused before anything is applied. */
const malformed = fc.oneof(
  fc.tuple(fc.constantFrom(...PATHS), fc.nat(200)).map(([path, cut]) => {
    const text = JSON.stringify(ROUTES[path].body);
    return { method: 'POST', path, body: text.slice(0, 1 + (cut % (text.length - 1))) };
  }),
  fc.tuple(fc.constantFrom(...PATHS), fc.nat(), fc.nat()).map(([path, f, v]) => {
    const r = ROUTES[path];
    const fields = [...r.bytes.map((name) => [name, BAD_BYTES] as const), ...r.ints.map((name) => [name, BAD_INTS] as const)];
    if (fields.length === 0) return { method: 'POST', path: '/v3/kv/txn', body: JSON.stringify(BAD_TXN[v % BAD_TXN.length]) };
    const [name, bad] = fields[f % fields.length];
    return { method: 'POST', path, body: JSON.stringify({ ...r.body, [name]: bad[v % bad.length] }) };
  }),
  fc
    .tuple(fc.constantFrom(...PATHS), fc.uint8Array({ minLength: 1, maxLength: 64 }))
    .map(([path, bytes]) => ({ method: 'POST', path, body: '\u0001' + Buffer.from(bytes).toString('latin1') })),
  fc
    .tuple(fc.constantFrom(...PATHS), fc.constantFrom('[1,2]', '"text"', '42', 'true', '['.repeat(5000), '{"key":' + '['.repeat(2000)))
    .map(([path, body]) => ({ method: 'POST', path, body })),
  fc
    .tuple(
      fc.constantFrom('/v3/kv/nothing', '/v3/', '/v2/keys/a', '/v3/maintenance/defragment', '/%', '/v3/kv/put/extra'),
      fc.string({ maxLength: 20 }),
    )
    .map(([path, body]) => ({ method: 'POST', path, body })),
  fc
    .tuple(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH'), fc.constantFrom(...PATHS))
    .map(([method, path]) => ({ method, path, body: JSON.stringify(ROUTES[path].body) })),
);

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function request(method: string, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      reg.url + path,
      { method, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('registry under hostile clients', () => {
  it('refuses every malformed request without a state change, keeps serving an honest client, bounded memory', async () => {
    const before = await fingerprint();
    const honest = honestClient();
    const statuses = new Map<number, number>();
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);

    // 8,000 malformed HTTP/JSON requests.
    const cases = fc.sample(malformed, { numRuns: 8000, seed: 1212 });
    await pool(cases.length, 16, async (i) => {
      const c = cases[i];
      const r = await request(c.method, c.path, c.body).catch((err: Error) => {
        throw new Error(
          `${c.method} ${c.path} ${JSON.stringify(c.body.slice(0, 80))}: ${err.message}\n${reg.log.slice(-6).join('\n').slice(0, 3000)}`,
        );
      });
      count(r.status);
      if (r.status === 200 || r.status >= 500)
        throw new Error(`${c.method} ${c.path} ${c.body.slice(0, 80)} -> ${r.status} ${r.text.slice(0, 200)}`);
    });

    // 500 malformed HTTP byte streams on raw sockets: the server answers 4xx or closes, and lives.
    const raw = [
      'GARBAGE\r\n\r\n',
      'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      `POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /v3/kv/put HTTP/9.9\r\n\r\n',
      '\u0000\u0001\u0002\u0003PRI',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u0000\u0000\u0004\u0099',
    ];
    await pool(
      500,
      16,
      (i) =>
        new Promise<void>((resolve) => {
          const s = net.connect(Number(new URL(reg.url).port), '127.0.0.1', () => s.end(raw[i % raw.length]));
          let text = '';
          s.on('data', (c: Buffer) => {
            text += c.toString('latin1');
          });
          s.on('error', () => {});
          s.setTimeout(12_000, () => s.destroy());
          s.on('close', () => {
            if (text.startsWith('HTTP/1.1 ')) count(Number(text.slice(9, 12)));
            else count(0); // closed without an answer
            resolve();
          });
        }),
    );
    for (const s of statuses.keys()) if (s !== 0) expect(s, `raw status ${s}`).toBeLessThan(500);

    // 2,000 malformed gRPC calls: bad frames, bad lengths, compressed flags without an encoding, unknown methods.
    const h2 = http2.connect(reg.url);
    h2.on('error', () => {});
    const grpcStatuses = new Map<string, number>();
    const frames = [
      Buffer.from([0, 0, 0, 0, 10, 1, 2]),
      Buffer.from([1, 0, 0, 0, 2, 0xff, 0xff]),
      Buffer.from([0, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0, 0, 0]),
      Buffer.from([7, 0, 0, 0, 2, 0x0a, 0xff]),
    ];
    const paths = [
      '/etcdserverpb.KV/Put',
      '/etcdserverpb.KV/Txn',
      '/etcdserverpb.KV/DeleteRange',
      '/etcdserverpb.Lease/LeaseRevoke',
      '/etcdserverpb.KV/Nothing',
      '/nothing.Service/Call',
    ];
    await pool(
      2000,
      16,
      (i) =>
        new Promise<void>((resolve) => {
          const req = h2.request({
            ':method': 'POST',
            ':path': paths[i % paths.length],
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          let status = 'none';
          req.on('response', (headers) => {
            if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
          });
          req.on('trailers', (t) => {
            status = String(t['grpc-status']);
          });
          req.on('data', () => {});
          req.on('error', () => {});
          req.setTimeout(10_000, () => req.close());
          req.on('close', () => {
            grpcStatuses.set(status, (grpcStatuses.get(status) ?? 0) + 1);
            resolve();
          });
          req.end(frames[Math.floor(i / paths.length) % frames.length]);
        }),
    );
    h2.close();
    expect(grpcStatuses.get('0') ?? 0, JSON.stringify([...grpcStatuses])).toBe(0);
    expect(grpcStatuses.get('none') ?? 0, JSON.stringify([...grpcStatuses])).toBe(0);

    // Oversized bodies: 429 without reading more than the bound.
    const huge = JSON.stringify({ key: b64('/seed/1'), value: Buffer.alloc(9 * 1024 * 1024, 1).toString('base64') });
    for (let i = 0; i < 3; i++) expect((await request('POST', '/v3/kv/put', huge)).status).toBe(429);
    const big = JSON.stringify({ key: b64('/seed/1'), value: Buffer.alloc(3 * 1024 * 1024, 1).toString('base64') });
    const bigs = await Promise.all(Array.from({ length: 12 }, () => request('POST', '/v3/kv/put', big)));
    expect(bigs.map((r) => r.status)).toEqual(Array(12).fill(429));

    await honest.stop();
    expect(honest.stats.failures).toEqual([]);
    expect(honest.stats.ops).toBeGreaterThan(20);
    expect(honest.stats.maxMs).toBeLessThan(3000);
    expect(await fingerprint()).toBe(before);
    expect(reg.proc.exitCode).toBeNull();
    expect(await peakRssMb()).toBeLessThan(PEAK_RSS_LIMIT_MB);
    expect(reg.log.join('\n')).not.toMatch(/"level":(50|60)/); // nothing logged as an error or fatal
  });

  it('300 slowloris connections and 3,000 unread watches: the honest client is served, memory stays bounded', async () => {
    const port = Number(new URL(reg.url).port);
    const honest = honestClient();
    // Slowloris: a request whose headers and body trickle in, one byte every 200 ms.
    const slow: net.Socket[] = [];
    const text = 'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"key":';
    for (let i = 0; i < 300; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      slow.push(s);
    }
    let pos = 0;
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(text[pos % text.length]);
      pos++;
    }, 200);

    // Watch flood: 30 connections with 100 watches each, never read (paused), then 200 writes of 4 KiB.
    const watchers: http.ClientRequest[] = [];
    for (let c = 0; c < 30; c++) {
      const req = http.request(reg.url + '/v3/watch', { method: 'POST', agent: false }, (res) => res.pause());
      req.on('error', () => {});
      for (let w = 0; w < 100; w++) req.write(JSON.stringify({ create_request: { key: b64('/flood/'), range_end: b64('/flood0') } }));
      watchers.push(req);
    }
    const metric = async (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(reg.url + '/metrics')).text())?.[1]);
    const until = async (cond: () => Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return cond();
    };
    expect(await until(async () => (await metric('etcd_debugging_mvcc_watcher_total')) >= 3000, 15_000)).toBe(true);
    const value = b64('w'.repeat(4096));
    for (let i = 0; i < 200; i++) expect((await post(reg.url, '/v3/kv/put', { key: b64(`/flood/${i % 10}`), value })).status).toBe(200);
    // One reader that does read sees every event.
    const got = await post(reg.url, '/v3/kv/range', { key: b64('/flood/'), range_end: b64('/flood0'), count_only: true });
    expect(got.json.count).toBe('10');

    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(drip);
    await honest.stop();
    expect(honest.stats.failures).toEqual([]);
    expect(honest.stats.maxMs).toBeLessThan(3000);
    expect(await peakRssMb()).toBeLessThan(PEAK_RSS_LIMIT_MB);

    for (const s of slow) s.destroy();
    for (const w of watchers) w.destroy();
    expect(await until(async () => (await metric('etcd_debugging_mvcc_watcher_total')) === 0, 10_000)).toBe(true);
    expect((await fetch(reg.url + '/health')).status).toBe(200);
    expect(reg.proc.exitCode).toBeNull();
  });
});
