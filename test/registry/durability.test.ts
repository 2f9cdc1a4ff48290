import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { b64, ensureBuilt, post, spawnRegistry, tempDir, unb64, watch, type RegistryProcess } from './helpers.js';

/**
 * A writer keeps 32 requests in flight (puts, two-key txns, lease grants, each with a unique value) while the
 * registry process is kill -9'ed and restarted. Every acknowledged write must survive; an unacknowledged one
 * may be lost but never half-applied (a txn's two keys appear together or not at all); a watch from
 * revision 1 must replay exactly the surviving history.
 */
const TOTAL = 10_000;
const KILLS_AT = [1800, 4100, 6300, 8200];
const CONCURRENCY = 32;

type Op =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'txn'; keys: [string, string]; value: string }
  | { kind: 'lease'; id: string };

let dir: string;
let reg: RegistryProcess | undefined;
beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('vxreg-dur-');
}, 120_000);
afterAll(async () => {
  if (reg) await reg.kill9();
  await fs.rm(dir, { recursive: true, force: true });
});

function opFor(i: number, salt: string): Op {
  const value = `v${i}-${salt}`;
  if (i % 10 === 3) return { kind: 'lease', id: String(1_000_000 + i) };
  if (i % 10 === 7) return { kind: 'txn', keys: [`/d/t${i}a`, `/d/t${i}b`], value };
  return { kind: 'put', key: `/d/p${i}`, value };
}

async function send(url: string, op: Op): Promise<boolean> {
  const r =
    op.kind === 'put'
      ? await post(url, '/v3/kv/put', { key: b64(op.key), value: b64(op.value) })
      : op.kind === 'txn'
        ? await post(url, '/v3/kv/txn', { success: op.keys.map((k) => ({ request_put: { key: b64(k), value: b64(op.value) } })) })
        : await post(url, '/v3/lease/grant', { TTL: 3600, ID: op.id });
  return r.status === 200;
}

describe('registry durability under kill -9', () => {
  it('keeps every acknowledged write, half-applies none, and replays history exactly', async () => {
    const salt = randomBytes(4).toString('hex');
    const acked: Op[] = [];
    const ambiguous: Op[] = [];
    let next = 0;
    let restarts = 0;
    reg = await spawnRegistry(dir, ['--snapshot-every', '1500']);
    while (next < TOTAL) {
      const killAt = KILLS_AT[restarts] ?? Infinity;
      const url = reg.url;
      let dead = false;
      const worker = async () => {
        while (next < TOTAL && !dead) {
          const op = opFor(next++, salt);
          try {
            if (await send(url, op)) acked.push(op);
            else ambiguous.push(op);
          } catch {
            ambiguous.push(op);
          }
          if (acked.length >= killAt && !dead) {
            dead = true;
            await reg!.kill9();
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      if (dead) {
        restarts++;
        reg = await spawnRegistry(dir, ['--snapshot-every', '1500']);
      }
    }
    expect(restarts).toBe(KILLS_AT.length);
    await reg.kill9();
    reg = await spawnRegistry(dir);
    expect(reg.log.some((l) => /recovered \d+ log records/.test(l))).toBe(true);

    const all = await post(reg.url, '/v3/kv/range', { key: b64('/d/'), range_end: b64('/d0') });
    const have = new Map<string, string>(
      (all.json.kvs ?? []).map((kv: { key: string; value: string }) => [unb64(kv.key), unb64(kv.value)]),
    );
    const leases = new Set<string>((await post(reg.url, '/v3/lease/leases', {})).json.leases.map((l: { ID: string }) => l.ID));
    const present = (op: Op): boolean | 'half' => {
      if (op.kind === 'put') return have.get(op.key) === op.value;
      if (op.kind === 'lease') return leases.has(op.id);
      const [a, b] = op.keys.map((k) => have.get(k) === op.value);
      return a && b ? true : a || b ? 'half' : false;
    };
    const lost = acked.filter((op) => present(op) !== true);
    expect(lost).toEqual([]);
    expect(ambiguous.filter((op) => present(op) === 'half')).toEqual([]);
    // Nothing that was never sent, and every stored value is exactly one that was written.
    const written = new Map<string, string>();
    for (const op of [...acked, ...ambiguous]) {
      if (op.kind === 'put') written.set(op.key, op.value);
      if (op.kind === 'txn') for (const k of op.keys) written.set(k, op.value);
    }
    for (const [k, v] of have) expect(written.get(k)).toBe(v);
    expect(acked.length).toBeGreaterThan(TOTAL * 0.9);

    // History: a watch from revision 1 replays one PUT per stored key, at that key's mod_revision, in order.
    const rev = Number(all.json.header.revision);
    const w = watch(reg.url, { key: b64('/d/'), range_end: b64('/d0'), start_revision: '1' });
    const events = () => w.lines.slice(1).flatMap((l) => l.result.events ?? []);
    await w.until(() => events().length >= have.size, 10_000);
    w.close();
    const evs = events();
    expect(evs.length).toBe(have.size);
    const revs = evs.map((e: { kv: { mod_revision: string } }) => Number(e.kv.mod_revision));
    expect(revs.every((r: number, i: number) => i === 0 || r >= revs[i - 1])).toBe(true);
    expect(revs[revs.length - 1]).toBeLessThanOrEqual(rev);
    const byKey = new Map((all.json.kvs as { key: string; mod_revision: string; value: string }[]).map((kv) => [kv.key, kv]));
    for (const e of evs as { type?: string; kv: { key: string; mod_revision: string; value: string } }[]) {
      expect(e.type).toBeUndefined();
      expect(byKey.get(e.kv.key)).toMatchObject({ mod_revision: e.kv.mod_revision, value: e.kv.value });
    }
  });

  it('refuses a second registry on the same data directory while the first runs', async () => {
    expect(reg).toBeDefined();
    await expect(spawnRegistry(dir)).rejects.toThrow(
      /VXTUN_ERR_REGISTRY_DATA: data directory .* is in use by another registry \(pid \d+\)/,
    );
    expect((await post(reg!.url, '/v3/kv/range', { key: b64('/d/'), count_only: true, range_end: b64('/d0') })).status).toBe(200);
  });
});
