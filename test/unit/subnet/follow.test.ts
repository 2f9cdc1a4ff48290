/**
 * The lease follower against the embedded registry behind a TCP relay that can go silent: a connection that stops
 * carrying bytes without FIN/RST is noticed within seconds (the registry probe), reported as unreachable, and when
 * the path works again the follower lists again, so a lease written meanwhile arrives in a fresh snapshot.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../control/etcd/index.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';
import { encodeLeaseAttrs, vxlanLeaseAttrs } from '../../../control/subnet/lease.js';
import { EtcdLeaseStore, type StoredLease } from '../../../control/subnet/store.js';
import { embedded, uniquePrefix, type RunningServer } from '../../conformance/targets.js';

/** Relays loopback TCP to the registry; `silent` keeps every connection open but passes no more bytes. */
async function relay(target: URL): Promise<{ url: string; silent: boolean; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const r = { url: '', silent: false, close: async () => {} };
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.on('data', (d) => {
      if (!r.silent) outbound.write(d);
    });
    outbound.on('data', (d) => {
      if (!r.silent) inbound.write(d);
    });
    inbound.on('end', () => {
      if (!r.silent) outbound.end();
    });
    outbound.on('end', () => {
      if (!r.silent) inbound.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  r.url = `http://127.0.0.1:${port}`;
  r.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return r;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

describe('lease follower', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await embedded.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('notices a silent connection within seconds and, once the path works again, lists what changed meanwhile', async () => {
    const r = await relay(new URL(server.url));
    const direct = new EtcdClient({ endpoints: [server.url] });
    const client = new EtcdClient({ endpoints: [r.url], timeoutMs: 2000 });
    const probe = new EtcdClient({ endpoints: [r.url], timeoutMs: 1000, maxAttempts: 1 });
    const prefix = uniquePrefix('follow').slice(0, -1);
    const store = new EtcdLeaseStore(client, prefix, { probe, probeIntervalMs: 300 });
    const snapshots: string[][] = [];
    const unreachable: string[] = [];
    const w = store.watch({
      snapshot: (ls: StoredLease[]) => snapshots.push(ls.map((l) => formatSubnet4(l.subnet))),
      changes: () => undefined,
      unreachable: (err) => unreachable.push(err.message),
    });
    try {
      await until(() => snapshots.length === 1, 5000, 'the first listing');
      r.silent = true;
      const noticed = await until(() => unreachable.length > 0, 6000, 'the silent connection to be noticed');
      expect(noticed).toBeLessThan(6000);
      await direct.put(`${prefix}/subnets/10.244.9.0-24`, encodeLeaseAttrs(vxlanLeaseAttrs('198.18.0.9', 1, '02:00:00:00:00:09')));
      r.silent = false;
      await until(() => snapshots.length >= 2, 10_000, 'a fresh listing after the path works again');
      expect(snapshots[0]).toEqual([]);
      expect(snapshots.at(-1)).toEqual([formatSubnet4(parseSubnet4('10.244.9.0/24')!)]);
    } finally {
      w.close();
      client.close();
      probe.close();
      direct.close();
      await r.close();
    }
  }, 30_000);
});
