import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log.js';
import type { RegistryService } from '../service.js';
import type { RegistryMetrics } from '../metrics.js';
import { grpcPackage } from '../wire/proto.js';
import { Errors, toRpcError } from '../wire/rpc-error.js';
import { WatchStream, type WatchRequest } from '../watch-stream.js';
import { ETCD_VERSION } from '../../etcd-wire.js';
import { MAX_RECEIVE_BYTES } from '../store/kv-ops.js';
import { MAX_BODY_BYTES, authenticate, checkMessageSize, typeOf } from './gateway-common.js';
import { authorize, watchAccess, type AuthStore } from '../auth.js';
import { slowWatcher } from './http-streams.js';
import type { WatchBacklog } from './watch-backlog.js';

/** Bytes of keys and values a decoded request carries (nested ones included): cheap, and close to its size. */
function carriedBytes(v: unknown): number {
  if (Buffer.isBuffer(v)) return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + carriedBytes(x), 0);
  if (v && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + carriedBytes(x), 0);
  return 0;
}

/** About what a watch response takes on the wire: its events' keys and values plus some framing. */
function responseBytes(resp: { events?: { kv: { key: Buffer; value: Buffer }; prev_kv?: { value: Buffer } }[] }): number {
  let n = 64;
  for (const e of resp.events ?? []) n += 32 + e.kv.key.length + e.kv.value.length + (e.prev_kv?.value.length ?? 0);
  return n;
}

/**
 * etcd's gRPC services over the same service layer, with etcd's own protos: what etcdctl and clientv3 call
 * (KV, Watch, Lease, Maintenance.Status, Cluster.MemberList, Auth.Authenticate).
 */
type Msg = Record<string, unknown>;
// biome-ignore-start lint/suspicious/noExplicitAny: protobufjs' loaded package and messages are untyped

const tokenOf = (md: grpc.Metadata): string | undefined => (md.get('token')[0] ?? md.get('authorization')[0])?.toString();

/**
 * etcd's Snapshot stream: the database in chunks, each with the bytes still to come, then its sha256 as the last
 * blob (what `etcdctl snapshot restore` checks). An error must end the call with a status: destroying the stream
 * sends none and leaves `etcdctl snapshot save` waiting forever.
 */
async function sendSnapshot(svc: RegistryService, call: grpc.ServerWritableStream<Msg, Msg>): Promise<void> {
  try {
    const { header, db } = await svc.snapshot();
    const CHUNK = 32 * 1024;
    for (let off = 0; off < db.length && !call.cancelled; off += CHUNK) {
      const blob = db.subarray(off, off + CHUNK);
      const more = call.write({ header, remaining_bytes: db.length - off - blob.length, blob });
      if (!more) await new Promise((resolve) => call.once('drain', resolve));
    }
    call.write({ header, remaining_bytes: 0, blob: createHash('sha256').update(db).digest() });
    call.end();
  } catch (err) {
    const e = toRpcError(err);
    call.emit('error', { code: e.grpcCode, details: e.message });
  }
}

export function createGrpcServer(
  svc: RegistryService,
  metrics: RegistryMetrics,
  log: Logger,
  clientUrl: () => string,
  backlog: WatchBacklog,
  auth?: AuthStore,
): grpc.Server {
  // grpc-js takes messages up to MAX_BODY_BYTES; Put and Txn check etcd's MAX_RECEIVE_BYTES themselves, so a client is
  // refused with grpc-go's words ("grpc: received message larger than max (N vs. 2097152)"), not grpc-js's.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_BODY_BYTES, 'grpc.max_send_message_length': 2 ** 31 - 1 });
  const sized = (type: string, fn: (req: Msg) => Promise<Msg>) => (req: Msg) => {
    if (carriedBytes(req) > MAX_RECEIVE_BYTES / 2) checkMessageSize(typeOf(type), req);
    return fn(req);
  };
  const pkg = grpc.loadPackageDefinition(grpcPackage()) as any;
  const pb = pkg.etcdserverpb;

  const unary =
    (method: string, fn: (req: Msg) => Promise<Msg> | Msg): grpc.handleUnaryCall<Msg, Msg> =>
    (call, cb) => {
      Promise.resolve()
        .then(() => {
          authorize(auth, method, call.request, tokenOf(call.metadata), (id) => svc.leaseKeys(id));
          return fn(call.request);
        })
        .then(
          (resp) => {
            metrics.request(method, 0);
            cb(null, resp);
          },
          (err) => {
            const e = toRpcError(err);
            metrics.request(method, e.grpcCode);
            if (e.grpcCode === grpc.status.UNKNOWN) log.error({ err, method }, 'gRPC request failed');
            cb({ code: e.grpcCode, details: e.message } as grpc.ServiceError);
          },
        );
    };

  server.addService(pb.KV.service, {
    Range: unary('Range', (r) => svc.range(r)),
    Put: unary(
      'Put',
      sized('etcdserverpb.PutRequest', (r) => svc.put(r)),
    ),
    DeleteRange: unary('DeleteRange', (r) => svc.deleteRange(r)),
    Txn: unary(
      'Txn',
      sized('etcdserverpb.TxnRequest', (r) => svc.txn(r)),
    ),
    Compact: unary('Compact', (r) => svc.compact(r)),
  });

  server.addService(pb.Lease.service, {
    LeaseGrant: unary('LeaseGrant', (r) => svc.leaseGrant(r)),
    LeaseRevoke: unary('LeaseRevoke', (r) => svc.leaseRevoke(r)),
    LeaseTimeToLive: unary('LeaseTimeToLive', (r) => svc.leaseTimeToLive(r)),
    LeaseLeases: unary('LeaseLeases', () => svc.leaseLeases()),
    LeaseKeepAlive: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      let chain = Promise.resolve();
      call.on('data', (req: Msg) => {
        chain = chain
          .then(() => svc.leaseKeepAlive(req))
          .then(
            (resp) => {
              if (!call.cancelled) call.write(resp);
            },
            (err) => {
              const e = toRpcError(err);
              call.destroy(Object.assign(new Error(e.message), { code: e.grpcCode }));
            },
          );
      });
      call.on('end', () => void chain.then(() => call.end()));
      call.on('error', () => {});
    },
  });

  server.addService(pb.Watch.service, {
    Watch: (call: grpc.ServerDuplexStream<WatchRequest, Msg>) => {
      const token = tokenOf(call.metadata);
      const pending = backlog.stream();
      const stream = new WatchStream(
        svc,
        (resp) => {
          if (call.cancelled || !call.writable) return;
          const bytes = responseBytes(resp as Parameters<typeof responseBytes>[0]);
          call.write(resp, () => pending.flushed(bytes));
          if (!pending.queued(bytes)) {
            const e = slowWatcher();
            close();
            call.destroy(Object.assign(new Error(e.message), { code: e.grpcCode }));
          }
        },
        watchAccess(auth, token),
      );
      let closed = false;
      const close = () => {
        if (!closed) {
          closed = true;
          stream.close();
          pending.release();
        }
      };
      call.on('data', (req: WatchRequest) => stream.handle(req));
      call.on('cancelled', close);
      call.on('error', close);
      call.on('close', close);
      // Like etcd, a half-closed stream keeps delivering events until the client cancels it.
    },
  });

  const notImplemented = (name: string) =>
    unary(name, () => {
      throw Errors.unimplemented(name);
    });
  const member = () => ({ ID: svc.memberId, name: 'vxtun-registry', peerURLs: [], clientURLs: [clientUrl()] });
  server.addService(pb.Maintenance.service, {
    Status: unary('Status', () => svc.status(ETCD_VERSION.etcdserver)),
    Alarm: unary('Alarm', () => ({ header: svc.header() })),
    Defragment: unary('Defragment', () => ({ header: svc.header() })),
    Hash: notImplemented('Hash'),
    HashKV: unary('HashKV', (r) => svc.hashKV(r)),
    MoveLeader: notImplemented('MoveLeader'),
    Downgrade: notImplemented('Downgrade'),
    Snapshot: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      void sendSnapshot(svc, call);
    },
  });
  server.addService(pb.Cluster.service, {
    MemberList: unary('MemberList', () => ({ header: svc.header(), members: [member()] })),
    MemberAdd: notImplemented('MemberAdd'),
    MemberRemove: notImplemented('MemberRemove'),
    MemberUpdate: notImplemented('MemberUpdate'),
    MemberPromote: notImplemented('MemberPromote'),
  });
  const authMethods: Record<string, grpc.UntypedHandleCall> = {};
  for (const name of Object.keys(pb.Auth.service)) authMethods[name] = notImplemented(name);
  authMethods.Authenticate = unary('Authenticate', (r) => authenticate({ svc, auth }, r));
  authMethods.AuthStatus = unary('AuthStatus', () => ({ header: svc.header(), enabled: auth !== undefined }));
  // Without --auth-file there are no users or roles, as in an etcd where none were added.
  authMethods.UserList = unary('UserList', () => ({ header: svc.header(), users: auth?.userNames ?? [] }));
  authMethods.RoleList = unary('RoleList', () => ({ header: svc.header(), roles: auth?.roleNames ?? [] }));
  server.addService(pb.Auth.service, authMethods);
  return server;
}
// biome-ignore-end lint/suspicious/noExplicitAny: -
