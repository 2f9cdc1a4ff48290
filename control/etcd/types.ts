/**
 * Decoded etcd v3 messages. int64 fields are bigint (revisions, lease and cluster IDs exceed 2^53);
 * keys and values are Buffers. A field the server omitted reads as its zero value.
 */

export interface ResponseHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: bigint;
  raftTerm: bigint;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: bigint;
  modRevision: bigint;
  /** Number of writes since creation; 0 means the key does not exist (only seen in DELETE events). */
  version: bigint;
  /** 0n when the key has no lease. */
  lease: bigint;
}

export interface RangeResult {
  header: ResponseHeader;
  kvs: KeyValue[];
  /** True when `limit` cut the result short. */
  more: boolean;
  /** Number of keys in the whole range, ignoring `limit`. */
  count: bigint;
}

export interface PutResult {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteResult {
  header: ResponseHeader;
  deleted: bigint;
  prevKvs: KeyValue[];
}

export type TxnOpResult =
  | { type: 'range'; range: RangeResult }
  | { type: 'put'; put: PutResult }
  | { type: 'delete'; delete: DeleteResult }
  | { type: 'txn'; txn: TxnResult };

export interface TxnResult {
  header: ResponseHeader;
  /** A failed txn has no `succeeded` in etcd's JSON; it reads as false here. */
  succeeded: boolean;
  responses: TxnOpResult[];
}

export interface LeaseGrant {
  header: ResponseHeader;
  id: bigint;
  /** The TTL the server granted; etcd raises anything below its minimum (2 s by default). */
  ttl: number;
}

export interface LeaseKeepAlive {
  header: ResponseHeader;
  id: bigint;
  ttl: number;
}

export interface LeaseTimeToLive {
  header: ResponseHeader;
  id: bigint;
  /** Seconds left. */
  ttl: number;
  grantedTtl: number;
  keys: Buffer[];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface ServerStatus {
  header: ResponseHeader;
  version: string;
  dbSize: bigint;
  leader: bigint;
  raftIndex: bigint;
  raftTerm: bigint;
}

export interface ServerVersion {
  etcdserver: string;
  etcdcluster: string;
}
