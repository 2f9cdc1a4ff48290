/**
 * The client against a scripted gateway on loopback: failover, retries, error-body generations, and watch resume
 * with duplicate suppression. These are the behaviours a real server only shows under faults.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdClient, EtcdError, text, type WatchEvent } from '../../control/etcd/index.js';
import { freePort } from '../../bench/registry/etcd-process.js';

type Handler = (path: string, body: any, req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
const clients: EtcdClient[] = [];

async function fakeGateway(handler: Handler): Promise<string> {
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req.url ?? '', body ? JSON.parse(body) : undefined, req, res));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

const header = (rev: number) => ({
  cluster_id: '14841639068965178418',
  member_id: '10276657743932975437',
  revision: String(rev),
  raft_term: '2',
});
const kv = (key: string, rev: number, value = 'v') => ({
  key: Buffer.from(key).toString('base64'),
  create_revision: String(rev),
  mod_revision: String(rev),
  version: '1',
  value: Buffer.from(value).toString('base64'),
});
const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const client = (endpoints: string[]) => {
  const c = new EtcdClient({ endpoints, timeoutMs: 2000 });
  clients.push(c);
  return c;
};

/**
 * A gateway whose /v3/watch answers the n-th stream with streams[n] (the last one for any later stream); the
 * returned list collects each create_request.
 */
async function watchGateway(streams: ((line: (o: unknown) => void, end: () => void) => void)[]): Promise<{ url: string; creates: any[] }> {
  const creates: any[] = [];
  const url = await fakeGateway((path, body, _r, res) => {
    if (path !== '/v3/watch') return json(res, 404, {});
    creates.push(body.create_request);
    res.writeHead(200, { 'content-type': 'application/json' });
    streams[Math.min(creates.length, streams.length) - 1](
      (o) => res.write(`${JSON.stringify(o)}\n`),
      () => res.end(),
    );
  });
  return { url, creates };
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('etcd client under faults (scripted gateway)', () => {
  it('fails over from a dead endpoint, sends Grpc-Metadata-Hasleader, keeps int64 beyond 2^53 exact', async () => {
    let seenHeader: string | undefined;
    const live = await fakeGateway((_path, _b, req, res) => {
      seenHeader = req.headers['grpc-metadata-hasleader'] as string;
      json(res, 200, {
        header: header(7),
        kvs: [{ ...kv('/k', 7), create_revision: '9007199254740993', lease: '7587869874658723456' }],
        count: '1',
      });
    });
    const dead = `http://127.0.0.1:${await freePort()}`;
    const got = await client([dead, live]).get('/k');
    expect(seenHeader).toBe('true');
    expect([got?.createRevision, got?.lease]).toEqual([9007199254740993n, 7587869874658723456n]);
  });

  it('decides on the gRPC code in the body for both error generations, whatever the HTTP status', async () => {
    const bodies = [
      [412, { error: 'etcdserver: lease already exists', message: 'etcdserver: lease already exists', code: 9 }], // Debian 3.4.23
      [400, { code: 5, message: 'etcdserver: requested lease not found', details: [] }], // 3.6
      [
        400,
        {
          error: 'etcdserver: mvcc: required revision has been compacted',
          message: 'etcdserver: mvcc: required revision has been compacted',
          code: 11,
        },
      ],
    ] as const;
    let i = 0;
    const url = await fakeGateway((_p, _b, _r, res) => {
      const [s, b] = bodies[i++];
      json(res, s, b);
    });
    const c = client([url]);
    const errs = [] as EtcdError[];
    for (let n = 0; n < bodies.length; n++) errs.push(await c.range('/k').catch((e) => e));
    expect(errs.map((e) => [e.code, e.grpcCode, e.httpStatus])).toEqual([
      ['VXTUN_ERR_REGISTRY', 9, 412],
      ['VXTUN_ERR_LEASE_NOT_FOUND', 5, 400],
      ['VXTUN_ERR_COMPACTED', 11, 400],
    ]);
  });

  it('retries a write refused with "no leader" on the next endpoint, but not one that timed out', async () => {
    const noLeader = await fakeGateway((_p, _b, _r, res) =>
      json(res, 503, { error: 'etcdserver: no leader', message: 'etcdserver: no leader', code: 14 }),
    );
    let puts = 0;
    const ok = await fakeGateway((_p, _b, _r, res) => {
      puts++;
      json(res, 200, { header: header(3) });
    });
    expect((await client([noLeader, ok]).put('/k', 'v')).header.revision).toBe(3n);
    expect(puts).toBe(1);
    const silent = await fakeGateway(() => undefined); // accepts, never answers
    const err = await client([silent, ok])
      .put('/k', 'v')
      .catch((e) => e);
    expect(err.code).toBe('VXTUN_ERR_REGISTRY_UNAVAILABLE');
    expect(puts).toBe(1); // an ambiguous write is reported, not repeated
  });

  it('watch resumes from the last revision + 1 after a stream error and drops replayed events', async () => {
    const { url, creates } = await watchGateway([
      (line, end) => {
        line({ result: { header: header(10), created: true } });
        line({ result: { header: header(12), events: [{ kv: kv('/w/a', 11) }, { kv: kv('/w/b', 12) }] } });
        line({ error: { grpc_code: 14, http_code: 503, message: 'etcdserver: no leader', http_status: 'Service Unavailable' } });
        end();
      },
      (line) => {
        line({ result: { header: header(13), created: true } });
        line({
          result: {
            header: header(13),
            events: [{ kv: kv('/w/b', 12) }, { type: 'DELETE', kv: { key: kv('/w/a', 13).key, mod_revision: '13' } }],
          },
        });
      },
    ]);
    const got: WatchEvent[] = [];
    const w = client([url]).watch('/w/', { prefix: true }, (evs) => got.push(...evs));
    const end = Date.now() + 5000;
    while (got.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    w.close();
    expect(creates.map((c) => c.start_revision)).toEqual([undefined, '13']);
    expect(got.map((e) => [e.type, text(e.kv.key), e.kv.modRevision])).toEqual([
      ['PUT', '/w/a', 11n],
      ['PUT', '/w/b', 12n],
      ['DELETE', '/w/a', 13n],
    ]);
    expect([w.duplicatesDropped, w.reconnects]).toEqual([1, 1]);
  });

  it('a watch ended by a member shutting down (CANCELLED "client connection is closing") reconnects and resumes', async () => {
    const { url, creates } = await watchGateway([
      (line, end) => {
        line({ result: { header: header(10), created: true } });
        line({ result: { header: header(11), events: [{ kv: kv('/s/a', 11) }] } });
        // What etcd 3.4.23's gateway writes to every open watch when the member gets SIGTERM.
        line({
          error: { grpc_code: 1, http_code: 408, message: 'grpc: the client connection is closing', http_status: 'Request Timeout' },
        });
        end();
      },
      (line) => {
        line({ result: { header: header(11), created: true } });
        line({ result: { header: header(12), events: [{ kv: kv('/s/b', 12) }] } });
      },
    ]);
    const got: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = client([url]).watch('/s/', { prefix: true }, { events: (evs) => got.push(...evs), error: (e) => errors.push(e) });
    const end = Date.now() + 5000;
    while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    w.close();
    expect(errors).toEqual([]);
    expect(creates.map((c) => c.start_revision)).toEqual([undefined, '12']);
    expect(got.map((e) => [text(e.kv.key), e.kv.modRevision])).toEqual([
      ['/s/a', 11n],
      ['/s/b', 12n],
    ]);
    expect(w.reconnects).toBe(1);
  });

  it('a watch that goes silent past idleTimeoutMs reconnects on its own', async () => {
    let creates = 0;
    const url = await fakeGateway((_p, _b, _r, res) => {
      creates++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ result: { header: header(5), created: true } })}\n`); // then nothing, ever
    });
    const w = client([url]).watch('/w/', { prefix: true, idleTimeoutMs: 200 }, () => undefined);
    const end = Date.now() + 3000;
    while (creates < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    w.close();
    expect(creates).toBeGreaterThanOrEqual(3);
    expect(w.reconnects).toBeGreaterThanOrEqual(2);
  });
});
