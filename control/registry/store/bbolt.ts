/**
 * Writes a bbolt database file (go.etcd.io/bbolt 1.3 on-disk format), the format of etcd's backend and of
 * `etcdctl snapshot save` files. Only what a one-shot writer needs: two meta pages, an empty freelist, and for
 * each bucket a B+tree of leaf pages (a node too big for a page runs on into overflow pages) under branch pages.
 * Little-endian, 4 KiB pages, FNV-1a checksummed metas, as bbolt writes on amd64 and arm64.
 */
const PAGE = 4096;
const PAGE_HEADER = 16;
const ELEMENT = 16;
const BRANCH = 0x01,
  LEAF = 0x02,
  META = 0x04,
  FREELIST = 0x10;
const BUCKET_LEAF_FLAG = 0x01;
const MAGIC = 0xed0cdaed;
const VERSION = 2;
/** Elements per node: a page's count field is 16 bits; bbolt would split bigger nodes anyway. */
const MAX_ELEMENTS = 1024;

export interface Bucket {
  name: string;
  rows: [key: Buffer, value: Buffer][];
}

interface Element {
  key: Buffer;
  value: Buffer;
  flags: number;
  child?: bigint;
}

function fnv1a64(buf: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

export function writeBbolt(buckets: Bucket[]): Buffer {
  const pages: Buffer[] = [];
  let next = 3n; // 0 and 1 are the metas, 2 the freelist

  /** Lays one node out as a page (plus overflow pages) and returns its page id. */
  const node = (type: typeof LEAF | typeof BRANCH, elements: Element[]): bigint => {
    const data = elements.reduce((n, e) => n + e.key.length + (type === LEAF ? e.value.length : 0), 0);
    const size = PAGE_HEADER + ELEMENT * elements.length + data;
    const count = Math.ceil(size / PAGE);
    const buf = Buffer.alloc(count * PAGE);
    const id = next;
    next += BigInt(count);
    buf.writeBigUInt64LE(id, 0);
    buf.writeUInt16LE(type, 8);
    buf.writeUInt16LE(elements.length, 10);
    buf.writeUInt32LE(count - 1, 12);
    let off = PAGE_HEADER + ELEMENT * elements.length;
    elements.forEach((e, i) => {
      const at = PAGE_HEADER + ELEMENT * i;
      if (type === LEAF) {
        buf.writeUInt32LE(e.flags, at);
        buf.writeUInt32LE(off - at, at + 4);
        buf.writeUInt32LE(e.key.length, at + 8);
        buf.writeUInt32LE(e.value.length, at + 12);
      } else {
        buf.writeUInt32LE(off - at, at);
        buf.writeUInt32LE(e.key.length, at + 4);
        buf.writeBigUInt64LE(e.child!, at + 8);
      }
      off += e.key.copy(buf, off);
      if (type === LEAF) off += e.value.copy(buf, off);
    });
    pages.push(buf);
    return id;
  };

  /** A B+tree over sorted elements; returns the root page id. */
  const tree = (elements: Element[]): bigint => {
    let level: Element[] = [];
    for (let i = 0; i < elements.length; i += MAX_ELEMENTS) {
      const chunk = elements.slice(i, i + MAX_ELEMENTS);
      level.push({ key: chunk[0].key, value: Buffer.alloc(0), flags: 0, child: node(LEAF, chunk) });
    }
    while (level.length > 1) {
      const up: Element[] = [];
      for (let i = 0; i < level.length; i += MAX_ELEMENTS) {
        const chunk = level.slice(i, i + MAX_ELEMENTS);
        up.push({ key: chunk[0].key, value: Buffer.alloc(0), flags: 0, child: node(BRANCH, chunk) });
      }
      level = up;
    }
    return level[0].child!;
  };

  /** A bucket's value in its parent: {root pgid, sequence}, or for an empty bucket an inline empty leaf. */
  const bucketValue = (rows: Bucket['rows']): Buffer => {
    if (rows.length === 0) {
      const v = Buffer.alloc(16 + PAGE_HEADER);
      v.writeUInt16LE(LEAF, 16 + 8);
      return v;
    }
    const sorted = [...rows].sort((a, b) => Buffer.compare(a[0], b[0]));
    const v = Buffer.alloc(16);
    v.writeBigUInt64LE(tree(sorted.map(([key, value]) => ({ key, value, flags: 0 }))), 0);
    return v;
  };

  const top = [...buckets]
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    .map((b) => ({ key: Buffer.from(b.name), value: bucketValue(b.rows), flags: BUCKET_LEAF_FLAG }));
  const root = node(LEAF, top);

  /** Meta page `id` (0 or 1), written by transaction `id`: bbolt reads the valid one with the higher txid. */
  const meta = (id: bigint): Buffer => {
    const txid = id;
    const p = Buffer.alloc(PAGE);
    p.writeBigUInt64LE(id, 0);
    p.writeUInt16LE(META, 8);
    const m = p.subarray(PAGE_HEADER);
    m.writeUInt32LE(MAGIC, 0);
    m.writeUInt32LE(VERSION, 4);
    m.writeUInt32LE(PAGE, 8);
    m.writeUInt32LE(0, 12);
    m.writeBigUInt64LE(root, 16);
    m.writeBigUInt64LE(0n, 24);
    m.writeBigUInt64LE(2n, 32);
    m.writeBigUInt64LE(next, 40);
    m.writeBigUInt64LE(txid, 48);
    m.writeBigUInt64LE(fnv1a64(m.subarray(0, 56)), 56);
    return p;
  };
  const freelist = Buffer.alloc(PAGE);
  freelist.writeBigUInt64LE(2n, 0);
  freelist.writeUInt16LE(FREELIST, 8);
  return Buffer.concat([meta(0n), meta(1n), freelist, ...pages]);
}
