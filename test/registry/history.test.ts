import { describe, expect, it } from 'vitest';
import { b64, inProcessRegistry, post, watch } from './helpers.js';

/** Bounded history: old revisions are compacted automatically; idle watchers get progress notifications. */
const reg = inProcessRegistry('vxreg-hist-', undefined, { historyRevisions: 50, progressIntervalMs: 300 });

describe('registry history bounds', () => {
  it('compacts revisions beyond --history-revisions; old reads and watches report the compaction', async () => {
    for (let i = 0; i < 120; i++) await post(reg.url, '/v3/kv/put', { key: b64('/h/k'), value: b64(String(i)) });
    const rev = Number((await post(reg.url, '/v3/kv/range', { key: b64('/h/k') })).json.header.revision);
    let old;
    for (let i = 0; i < 20; i++) {
      old = await post(reg.url, '/v3/kv/range', { key: b64('/h/k'), revision: '2' });
      if (old.status !== 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([old!.status, old!.json.code]).toEqual([400, 11]);
    const recent = await post(reg.url, '/v3/kv/range', { key: b64('/h/k'), revision: String(rev - 40) });
    expect(recent.status).toBe(200);
    const w = watch(reg.url, { key: b64('/h/k'), start_revision: '2' });
    expect(await w.until((l) => l.length >= 2)).toBe(true);
    const compactRev = Number(w.lines[1].result.compact_revision);
    expect(w.lines[1].result.canceled).toBe(true);
    expect(compactRev).toBeGreaterThan(2);
    expect(compactRev).toBeLessThanOrEqual(rev - 40);
    w.close();
  });

  it('sends progress notifications (header only) to idle watchers that ask for them', async () => {
    const w = watch(reg.url, { key: b64('/idle'), progress_notify: true });
    expect(await w.until((l) => l.length >= 2, 3000)).toBe(true);
    const p = w.lines[1].result;
    expect(Object.keys(p)).toEqual(['header']);
    expect(Number(p.header.revision)).toBeGreaterThan(0);
    w.close();
  });
});
