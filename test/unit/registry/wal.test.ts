import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WriteAheadLog } from '../../../control/registry/wal/wal.js';
import { encodeFrame, decodeFrames } from '../../../control/registry/wal/framing.js';
import { loadSnapshot, serializeSnapshot } from '../../../control/registry/wal/snapshot.js';
import { Store } from '../../../control/registry/store/store.js';
import { checkPut, put, range } from '../../../control/registry/store/kv-ops.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'vxreg-wal-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

const noSnap = { snapshotEvery: 1e9, takeSnapshot: () => Buffer.alloc(0) };

describe('write-ahead log', () => {
  it('numbers records, shares fsyncs between concurrent appends, and recovers them in order', async () => {
    const dir = await tmp();
    await WriteAheadLog.recover(dir, 0);
    let fsyncs = 0;
    const wal = await WriteAheadLog.open(dir, 0, {
      ...noSnap,
      onFsync: () => {
        fsyncs++;
      },
    });
    await Promise.all(Array.from({ length: 200 }, (_, i) => wal.append({ t: 'g', id: String(i + 1), ttl: 10 })));
    expect(wal.durableSeq).toBe(200);
    expect(fsyncs).toBeLessThan(200);
    await wal.close();
    const rec = await WriteAheadLog.recover(dir, 0);
    expect(rec.records.map((r) => r.s)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(rec.discardedBytes).toBe(0);
  });

  it('discards a torn or corrupted last record and keeps appending after it', async () => {
    const dir = await tmp();
    await WriteAheadLog.recover(dir, 0);
    const wal = await WriteAheadLog.open(dir, 0, noSnap);
    for (let i = 1; i <= 3; i++) await wal.append({ t: 'g', id: String(i), ttl: 10 });
    await wal.close();
    const seg = path.join(dir, 'wal', (await fs.readdir(path.join(dir, 'wal')))[0]);
    const torn = encodeFrame(JSON.stringify({ s: 4, t: 'g', id: '4', ttl: 10 }));
    await fs.appendFile(seg, torn.subarray(0, torn.length - 3));
    const rec = await WriteAheadLog.recover(dir, 0);
    expect(rec.records.map((r) => r.s)).toEqual([1, 2, 3]);
    expect(rec.discardedBytes).toBe(torn.length - 3);
    // A flipped byte inside the last record's payload fails its CRC the same way.
    const wal2 = await WriteAheadLog.open(dir, 3, noSnap);
    await wal2.append({ t: 'g', id: '4', ttl: 10 });
    await wal2.close();
    const buf = await fs.readFile(seg);
    buf[buf.length - 2] ^= 0xff;
    await fs.writeFile(seg, buf);
    expect((await WriteAheadLog.recover(dir, 0)).records.map((r) => r.s)).toEqual([1, 2, 3]);
    expect(decodeFrames(await fs.readFile(seg)).payloads).toHaveLength(3);
  });

  it('refuses a damaged segment that is not the last one', async () => {
    const dir = await tmp();
    await fs.mkdir(path.join(dir, 'wal'));
    await fs.writeFile(
      path.join(dir, 'wal', '0000000000000001.wal'),
      Buffer.concat([encodeFrame('{"s":1,"t":"c","rev":1}'), Buffer.from('garbage')]),
    );
    await fs.writeFile(path.join(dir, 'wal', '0000000000000002.wal'), encodeFrame('{"s":2,"t":"c","rev":1}'));
    await expect(WriteAheadLog.recover(dir, 0)).rejects.toThrow(/damaged/);
  });

  it('snapshots every N records, deletes covered segments, and snapshot + tail rebuild the store', async () => {
    const dir = await tmp();
    const store = new Store();
    await WriteAheadLog.recover(dir, 0);
    const snaps: number[] = [];
    const wal = await WriteAheadLog.open(dir, 0, {
      snapshotEvery: 50,
      takeSnapshot: (seq) => serializeSnapshot(store, seq),
      onSnapshot: (seq) => snaps.push(seq),
    });
    for (let i = 0; i < 120; i++) {
      const req = { key: Buffer.from(`k${i % 30}`), value: Buffer.from(`v${i}`) };
      checkPut(store, req);
      const { record } = store.write(() => put(store, req));
      await wal.append(record!);
    }
    await wal.close();
    // Snapshots at 50 and then at 100 (a failed one would report -1). The second waits while the first is still
    // being written, so on a slow disk it may land a few records after 100; only the segment started after it is left.
    expect(snaps).toHaveLength(2);
    expect(snaps[0]).toBe(50);
    expect(snaps[1]).toBeGreaterThanOrEqual(100);
    expect(snaps[1]).toBeLessThan(120);
    expect(await fs.readdir(path.join(dir, 'wal'))).toEqual([`${String(snaps[1] + 1).padStart(16, '0')}.wal`]);
    const copy = new Store();
    const snapSeq = await loadSnapshot(dir, copy);
    for (const r of (await WriteAheadLog.recover(dir, snapSeq)).records) copy.replay(r);
    expect(copy.rev).toBe(store.rev);
    const all = { key: Buffer.from([0]), range_end: Buffer.from([0]) };
    expect(range(copy, all)).toEqual(range(store, all));
    // History retained for watchers: both see the same events per revision.
    expect(copy.history.map((h) => [h.rev, h.events.map((e) => e.kv.value.toString())])).toEqual(
      store.history.map((h) => [h.rev, h.events.map((e) => e.kv.value.toString())]),
    );
  });
});
