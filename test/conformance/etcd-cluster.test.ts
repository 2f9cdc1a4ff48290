/**
 * Failover against a real 3-member etcd 3.4.23 cluster: when the member the client talks to dies, reads, writes
 * and a running watch move to the next endpoint, and the watch resumes without a gap or a repeat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, text, type WatchEvent } from '../../control/etcd/index.js';
import { startEtcdCluster, type EtcdProcess } from '../../bench/registry/etcd-process.js';
import { until } from './targets.js';

/** The members ordered with the leader first when `leaderFirst`, else a follower first. */
async function ordered(members: EtcdProcess[], leaderFirst: boolean): Promise<EtcdProcess[]> {
  const roles = await Promise.all(
    members.map(async (m) => {
      const c = new EtcdClient({ endpoints: [m.url] });
      try {
        const st = await c.status();
        return st.leader === st.header.memberId;
      } finally {
        c.close();
      }
    }),
  );
  const first = members.findIndex((_, i) => roles[i] === leaderFirst);
  return [members[first], ...members.filter((_, i) => i !== first)];
}

describe('failover across a 3-member etcd 3.4.23 cluster', () => {
  let members: EtcdProcess[] = [];
  beforeAll(async () => {
    members = await startEtcdCluster(3);
  });
  afterAll(async () => {
    await Promise.all(members.map((m) => m.stop()));
  });

  it('a follower dies: writes, reads and the watch continue on the next endpoint, events exactly once', async () => {
    const order = await ordered(members, false);
    const client = new EtcdClient({ endpoints: order.map((m) => m.url), timeoutMs: 3000 });
    try {
      const got: WatchEvent[] = [];
      const w = client.watch('/failover/', { prefix: true, prevKv: true }, (evs) => got.push(...evs));
      await w.ready;
      await client.put('/failover/a', '1');
      await until(() => got.length >= 1, 5000);
      process.kill(order[0].pid, 'SIGKILL'); // where the client and the watch are connected
      const b = await client.put('/failover/b', '2');
      await client.put('/failover/a', '3');
      expect(text((await client.get('/failover/b'))?.value)).toBe('2');
      await until(() => got.length >= 3, 10_000);
      w.close();
      expect(got.map((e) => [text(e.kv.key), text(e.kv.value), e.prevKv ? text(e.prevKv.value) : null])).toEqual([
        ['/failover/a', '1', null],
        ['/failover/b', '2', null],
        ['/failover/a', '3', '1'],
      ]);
      expect(got[1].kv.modRevision).toBe(b.header.revision);
      expect(w.reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
    }
    await order[0].restart();
  });

  it('the leader dies: writes during the election fail only as unavailable, then succeed; the watch sees each applied write once', async () => {
    const order = await ordered(members, true);
    const client = new EtcdClient({ endpoints: order.map((m) => m.url), timeoutMs: 2000 });
    try {
      const got: WatchEvent[] = [];
      const w = client.watch('/election/', { prefix: true }, (evs) => got.push(...evs));
      await w.ready;
      process.kill(order[0].pid, 'SIGKILL');
      const acked: string[] = [];
      const codes = new Set<string>();
      for (let i = 0; i < 15 && acked.length < 3; i++) {
        // bounded: 15 tries, about 30 s at most
        try {
          await client.put(`/election/k${i}`, `v${i}`);
          acked.push(`v${i}`);
        } catch (err) {
          codes.add((err as { code: string }).code);
        }
      }
      expect(acked).toHaveLength(3);
      expect([...codes].every((c) => c === 'VXTUN_ERR_REGISTRY_UNAVAILABLE')).toBe(true);
      await until(() => acked.every((v) => got.some((e) => text(e.kv.value) === v)), 10_000);
      w.close();
      const revisions = got.map((e) => e.kv.modRevision);
      expect(new Set(revisions).size).toBe(revisions.length); // no event twice
      expect([...revisions].sort((x, y) => (x < y ? -1 : 1))).toEqual(revisions); // in order
      for (const v of acked) expect(got.filter((e) => text(e.kv.value) === v)).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});
