import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import * as protoLoader from '@grpc/proto-loader';

/**
 * etcd's own .proto files, shipped in the npm package `etcd3`. One message model for both transports:
 * protobufjs reflection drives the gateway JSON codec, @grpc/proto-loader the gRPC services.
 * protobufjs tolerates the unresolved `google.api.http` options, so no stub files are needed.
 */
const require = createRequire(import.meta.url);
export const RPC_PROTO = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto', 'rpc.proto');

let root: protobuf.Root | undefined;
export function protoRoot(): protobuf.Root {
  if (!root) {
    root = new protobuf.Root().loadSync(RPC_PROTO, { keepCase: true });
    root.resolveAll();
  }
  return root;
}

export function messageType(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

/** Same representation the JSON codec produces: proto field names, int64 as decimal strings, bytes as Buffer, enums as numbers. */
export function grpcPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(RPC_PROTO, { keepCase: true, longs: String, defaults: false, oneofs: false });
}
