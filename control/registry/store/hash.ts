import { createRequire } from 'node:module';
import { messageType } from '../wire/proto.js';
import { keyBytes } from './types.js';
import type { Store } from './store.js';

/**
 * etcd's HashKV (mvcc HashByRev): CRC-32C over the bucket name "key", then, in revision order, every stored
 * revision up to `rev` as etcd keeps it in bbolt: the 17-byte revision key (8-byte main, '_', 8-byte sub;
 * a tombstone adds 't') and the gogo-protobuf mvccpb.KeyValue (zero fields omitted; a tombstone holds only
 * the key). Revisions at or below the compaction revision count only where compacting at `rev` would keep
 * them (a key's newest revision <= rev, unless a tombstone). The same history gives the same hash as etcd.
 */
const crc32c = createRequire(import.meta.url)('crc-32/crc32c') as { buf(b: Uint8Array, seed?: number): number };
const BUCKET = Buffer.from('key');

export function revisionKey(rev: number, sub: number, tombstone: boolean): Buffer {
  const b = Buffer.alloc(tombstone ? 18 : 17);
  b.writeBigUInt64BE(BigInt(rev), 0);
  b[8] = 0x5f; // '_'
  b.writeBigUInt64BE(BigInt(sub), 9);
  if (tombstone) b[17] = 0x74; // 't'
  return b;
}

/** The "key" bucket etcd would hold for this history up to `rev`: [revision key, KeyValue] rows in order. */
export function keyBucketRows(store: Store, rev: number): [key: Buffer, value: Buffer][] {
  const kvType = messageType('mvccpb.KeyValue');
  const rows: { rev: number; sub: number; key: Buffer; value: Buffer }[] = [];
  for (const [id, entries] of store.keyspace.historyEntries()) {
    const key = keyBytes(id);
    let newest = -1;
    for (let i = 0; i < entries.length && entries[i].rev <= rev; i++) newest = i;
    entries.forEach((e, i) => {
      if (e.rev > rev) return;
      if (e.rev <= store.compactRev && !(i === newest && e.kv)) return;
      const kv = e.kv;
      const msg: Record<string, unknown> = { key };
      if (kv) {
        if (kv.create_revision) msg.create_revision = kv.create_revision;
        if (kv.mod_revision) msg.mod_revision = kv.mod_revision;
        if (kv.version) msg.version = kv.version;
        if (kv.value.length > 0) msg.value = kv.value;
        if (kv.lease !== '0') msg.lease = kv.lease;
      }
      rows.push({
        rev: e.rev,
        sub: e.sub,
        key: revisionKey(e.rev, e.sub, !kv),
        value: Buffer.from(kvType.encode(kvType.fromObject(msg)).finish()),
      });
    });
  }
  rows.sort((a, b) => a.rev - b.rev || a.sub - b.sub);
  return rows.map((r) => [r.key, r.value]);
}

export function hashKV(store: Store, rev: number): number {
  let crc = crc32c.buf(BUCKET);
  for (const [k, v] of keyBucketRows(store, rev)) crc = crc32c.buf(v, crc32c.buf(k, crc));
  return crc >>> 0;
}
