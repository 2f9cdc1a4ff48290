/**
 * The etcd series that dashboards and alerts read, scraped from Debian's etcd 3.4.23 and from the embedded
 * registry after the same writes and with one watch open on each: same names, types and help texts, and the
 * same values where the two can agree (leader, keys, revision, watchers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, post, rawWatch } from './raw.js';
import { embedded, etcd3423, type RunningServer } from './targets.js';

let etcd: RunningServer | undefined;
let reg: RunningServer | undefined;
beforeAll(async () => {
  [etcd, reg] = await Promise.all([etcd3423.start(), embedded.start()]);
});
afterAll(async () => {
  await Promise.all([etcd?.stop(), reg?.stop()]);
});

interface Scrape {
  type: Map<string, string>;
  help: Map<string, string>;
  value: Map<string, number>;
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const s: Scrape = { type: new Map(), help: new Map(), value: new Map() };
  for (const line of text.split('\n')) {
    const meta = /^# (TYPE|HELP) (\S+) (.*)$/.exec(line);
    if (meta) (meta[1] === 'TYPE' ? s.type : s.help).set(meta[2], meta[3]);
    const sample = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (sample) s.value.set(sample[1], Number(sample[2]));
  }
  return s;
}

const SERIES = [
  'etcd_server_has_leader',
  'etcd_server_is_leader',
  'etcd_mvcc_db_total_size_in_bytes',
  'etcd_mvcc_db_total_size_in_use_in_bytes',
  'etcd_disk_wal_fsync_duration_seconds',
  'etcd_debugging_mvcc_keys_total',
  'etcd_debugging_mvcc_current_revision',
  'etcd_debugging_mvcc_watcher_total',
  'etcd_server_proposals_committed_total',
];

describe('/metrics: the etcd series, etcd 3.4.23 and the embedded registry', () => {
  it('same names, types and help; same leader, key, revision and watcher values after the same writes', async () => {
    for (const s of [etcd!, reg!]) {
      for (const [route, body] of [
        ['/v3/kv/put', { key: b64('/m/a'), value: b64('1') }],
        ['/v3/kv/put', { key: b64('/m/b'), value: b64('2') }],
        ['/v3/kv/put', { key: b64('/m/a'), value: b64('3') }],
        ['/v3/kv/deleterange', { key: b64('/m/b') }],
        ['/v3/kv/put', { key: b64('/m/c'), value: b64('4') }],
      ] as const)
        expect((await post(s.url, route, body)).status).toBe(200);
    }
    let scrapes: Scrape[] = [];
    // One watch open on each while scraping.
    await Promise.all(
      [etcd!, reg!].map((s, i) =>
        rawWatch(
          s.url,
          { key: b64('/m/'), range_end: b64('/m0') },
          (ls) => ls.length > 0 && scrapes[i] !== undefined,
          1500,
          async () => {
            scrapes[i] = await scrape(s.url);
          },
        ),
      ),
    );
    scrapes = scrapes.filter(Boolean);
    expect(scrapes).toHaveLength(2);
    const [e, r] = scrapes;
    for (const name of SERIES) {
      expect(e.type.get(name), name).toBeDefined();
      expect(r.type.get(name), name).toBe(e.type.get(name));
      expect(r.help.get(name), name).toBe(e.help.get(name));
    }
    for (const name of [
      'etcd_server_has_leader',
      'etcd_server_is_leader',
      'etcd_debugging_mvcc_keys_total',
      'etcd_debugging_mvcc_current_revision',
      'etcd_debugging_mvcc_watcher_total',
    ]) {
      expect(r.value.get(name), name).toBe(e.value.get(name));
    }
    expect(r.value.get('etcd_debugging_mvcc_keys_total')).toBe(2);
    expect(r.value.get('etcd_debugging_mvcc_watcher_total')).toBe(1);
    const buckets = (s: Scrape) => [...s.value.keys()].filter((k) => k.startsWith('etcd_disk_wal_fsync_duration_seconds_bucket')).sort();
    expect(buckets(r)).toEqual(buckets(e));
    expect(r.value.get('etcd_disk_wal_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(r.value.get('etcd_mvcc_db_total_size_in_bytes')).toBeGreaterThan(0);
    expect(r.value.get('etcd_server_proposals_committed_total')).toBeGreaterThanOrEqual(5);
  });
});
