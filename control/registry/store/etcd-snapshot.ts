import protobuf from 'protobufjs';
import { writeBbolt } from './bbolt.js';
import { keyBucketRows, revisionKey } from './hash.js';
import type { Store } from './store.js';

/**
 * The store as the bbolt database an etcd 3.4 member would hold, for `etcdctl snapshot save`: bucket "key" with
 * every retained revision (as HashKV sees them), "lease" with each lease (leasepb.Lease by big-endian ID), and
 * "meta" with the consistent index and the compaction revision. `etcdctl snapshot restore` turns it into an
 * etcd data directory; `snapshot status` reads it.
 */
const u64 = (n: bigint | number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

export function etcdSnapshot(store: Store, consistentIndex: number): Buffer {
  const leases: [Buffer, Buffer][] = [...store.leases.all()].map((l) => [
    u64(BigInt(l.id)),
    Buffer.from(protobuf.Writer.create().uint32(8).int64(l.id).uint32(16).int64(l.ttl).finish()),
  ]);
  const meta: [Buffer, Buffer][] = [[Buffer.from('consistent_index'), u64(consistentIndex)]];
  if (store.compactRev > 0) {
    meta.push([Buffer.from('finishedCompactRev'), revisionKey(store.compactRev, 0, false)]);
    meta.push([Buffer.from('scheduledCompactRev'), revisionKey(store.compactRev, 0, false)]);
  }
  return writeBbolt([
    { name: 'key', rows: keyBucketRows(store, store.rev) },
    { name: 'lease', rows: leases },
    { name: 'meta', rows: meta },
  ]);
}
