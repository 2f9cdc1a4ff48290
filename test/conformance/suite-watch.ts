/** Watch: exact later events in order with prev_kv, resume points, compaction and the re-list path. */
import { expect, it } from 'vitest';
import { cmp, op, text, type KeyValue, type WatchEvent } from '../../control/etcd/index.js';
import type { SuiteContext } from './suite.js';
import { PROGRESS_INTERVAL_MS, uniquePrefix, until } from './targets.js';

const show = (e: WatchEvent) => [
  e.type,
  text(e.kv.key).replace(/^.*\//, ''),
  text(e.kv.value),
  e.kv.modRevision,
  e.prevKv ? text(e.prevKv.value) : null,
];

export function watchTests(ctx: SuiteContext): void {
  it('watch from revision + 1 sees exactly the later events, in order, with prev_kv', async () => {
    const p = uniquePrefix('watch');
    const r0 = (await ctx.client.put(`${p}a`, '0')).header.revision;
    await ctx.client.put(`${p}a`, '1');
    await ctx.client.put(`${p}b`, '2');
    await ctx.client.txn({ compare: [cmp.version(`${p}a`, '>', 0)], success: [op.put(`${p}c`, '3'), op.delete(`${p}a`)] });
    await ctx.client.put(`${uniquePrefix('other')}x`, 'not ours');
    await ctx.client.delete(`${p}b`);
    const got: WatchEvent[] = [];
    const revisions: bigint[] = [];
    const w = ctx.client.watch(p, { prefix: true, prevKv: true, startRevision: r0 + 1n }, (evs, rev) => {
      got.push(...evs);
      revisions.push(rev);
    });
    await until(() => got.length >= 5);
    w.close();
    expect(got.map(show)).toEqual([
      ['PUT', 'a', '1', r0 + 1n, '0'],
      ['PUT', 'b', '2', r0 + 2n, null],
      ['PUT', 'c', '3', r0 + 3n, null],
      ['DELETE', 'a', '', r0 + 3n, '1'],
      ['DELETE', 'b', '', r0 + 5n, '2'],
    ]);
    expect(w.duplicatesDropped).toBe(0);
  });

  it('watch without a start revision sees only changes after it was created', async () => {
    const p = uniquePrefix('now');
    await ctx.client.put(`${p}before`, 'x');
    const got: WatchEvent[] = [];
    const w = ctx.client.watch(p, { prefix: true }, (evs) => got.push(...evs));
    const createdAt = await w.ready;
    const put = await ctx.client.put(`${p}after`, 'y');
    await until(() => got.length >= 1);
    w.close();
    expect(put.header.revision).toBe(createdAt + 1n);
    expect(got.map((e) => text(e.kv.key))).toEqual([`${p}after`]);
  });

  it('progress notifications on an idle watch report the current revision', async () => {
    const p = uniquePrefix('progress');
    const rev = (await ctx.client.put(`${uniquePrefix('elsewhere')}k`, 'v')).header.revision;
    const progress: bigint[] = [];
    const w = ctx.client.watch(p, { prefix: true, progressNotify: true }, { events: () => undefined, progress: (r) => progress.push(r) });
    await w.ready;
    await until(() => progress.length >= 2, 4 * PROGRESS_INTERVAL_MS + 1000);
    w.close();
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((r) => r >= rev)).toBe(true);
  });

  it('a compacted start revision stops the watch with the compact revision, and reads below it fail', async () => {
    const p = uniquePrefix('compact');
    const old = (await ctx.client.put(`${p}k`, 'old')).header.revision;
    const latest = (await ctx.client.put(`${p}k`, 'new')).header.revision;
    await ctx.client.compact(latest);
    const read = await ctx.client.get(`${p}k`, { revision: old }).catch((e: unknown) => e);
    expect((read as { code?: string }).code).toBe('VXTUN_ERR_COMPACTED');
    let compactedAt = -1n;
    const w = ctx.client.watch(
      p,
      { prefix: true, startRevision: old },
      {
        events: () => undefined,
        compacted: (rev) => {
          compactedAt = rev;
        },
      },
    );
    await until(() => compactedAt >= 0n);
    expect(compactedAt).toBe(latest);
    expect(w.isClosed).toBe(true);
  });

  it('listAndWatch lists the prefix, then delivers exactly the changes after the list', async () => {
    const p = uniquePrefix('follow');
    await ctx.client.put(`${p}10.5.1.0-24`, 'lease-1');
    await ctx.client.put(`${p}10.5.2.0-24`, 'lease-2');
    const snapshots: [string[], bigint][] = [];
    const events: WatchEvent[] = [];
    const lw = ctx.client.listAndWatch(
      p,
      (kvs, rev) => snapshots.push([kvs.map((kv) => text(kv.value)), rev]),
      (evs) => events.push(...evs),
    );
    const listedAt = await lw.ready;
    const del = await ctx.client.delete(`${p}10.5.1.0-24`);
    await until(() => events.length > 0);
    lw.close();
    expect(snapshots).toEqual([[['lease-1', 'lease-2'], listedAt]]);
    expect(events.map((e) => [e.type, text(e.kv.key).replace(p, ''), e.kv.modRevision])).toEqual([
      ['DELETE', '10.5.1.0-24', del.header.revision],
    ]);
    expect(lw.relists).toBe(0);
  });

  it('listAndWatch re-lists when its resume revision was compacted, then follows new events', async () => {
    const p = uniquePrefix('relist');
    const old = (await ctx.client.put(`${p}10.5.1.0-24`, 'lease-1')).header.revision;
    await ctx.client.put(`${p}10.5.2.0-24`, 'lease-2');
    const latest = (await ctx.client.delete(`${p}10.5.1.0-24`)).header.revision;
    await ctx.client.compact(latest);
    const snapshots: [string[], bigint][] = [];
    const events: WatchEvent[] = [];
    const lw = ctx.client.listAndWatch(
      p,
      {
        snapshot: (kvs: KeyValue[], rev) => snapshots.push([kvs.map((kv) => text(kv.value)), rev]),
        events: (evs) => events.push(...evs),
      },
      { resumeFrom: old + 1n },
    );
    await until(() => snapshots.length > 0);
    const put = await ctx.client.put(`${p}10.5.3.0-24`, 'lease-3');
    await until(() => events.length > 0);
    lw.close();
    expect(lw.relists).toBe(1);
    expect(snapshots).toEqual([[['lease-2'], latest]]);
    expect(events.map((e) => [text(e.kv.value), e.kv.modRevision])).toEqual([['lease-3', put.header.revision]]);
  });

  it('a watcher survives a server restart: it resumes after the last revision it saw, with no gap and no repeat', async () => {
    const p = uniquePrefix('restart');
    const got: WatchEvent[] = [];
    const w = ctx.client.watch(p, { prefix: true }, (evs) => got.push(...evs));
    await w.ready;
    await ctx.client.put(`${p}a`, '1');
    await ctx.client.put(`${p}b`, '2');
    await until(() => got.length >= 2);
    await ctx.restart();
    const put = await ctx.client.put(`${p}c`, '3');
    await until(() => got.length >= 3, 8000);
    w.close();
    expect(got.map((e) => text(e.kv.value))).toEqual(['1', '2', '3']);
    expect(got[2].kv.modRevision).toBe(put.header.revision);
    expect(w.reconnects).toBeGreaterThanOrEqual(1);
  });

  it(
    ctx.target.dropsDeleteAtCompactRevision
      ? 'KNOWN BUG of etcd < 3.4.36 (#18089/#19179): a watch opened at the compaction revision misses the DELETE of that revision'
      : 'a watch opened at the compaction revision delivers every event of that revision',
    async () => {
      const p = uniquePrefix('atcompact');
      await ctx.client.put(`${p}a`, '1');
      const rev = (await ctx.client.txn({ success: [op.put(`${p}b`, '2'), op.delete(`${p}a`)] })).header.revision;
      await ctx.client.compact(rev, { physical: true }); // wait until the compacted history is really removed
      const got: WatchEvent[] = [];
      const w = ctx.client.watch(p, { prefix: true, startRevision: rev }, (evs) => got.push(...evs));
      await w.ready;
      await ctx.client.put(`${p}end`, 'marker');
      await until(() => got.some((e) => text(e.kv.key).endsWith('end')));
      w.close();
      const atRev = got.filter((e) => e.kv.modRevision === rev).map((e) => [e.type, text(e.kv.key).replace(p, '')]);
      if (ctx.target.dropsDeleteAtCompactRevision) expect(atRev).toEqual([['PUT', 'b']]);
      else
        expect(atRev).toEqual([
          ['PUT', 'b'],
          ['DELETE', 'a'],
        ]);
    },
  );
}
