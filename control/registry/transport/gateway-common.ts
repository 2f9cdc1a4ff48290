/**
 * What both transports of the registry share (the JSON gateway, its streams and gRPC): body limit, message
 * types, CORS headers, the handler dependencies and Authenticate.
 */
import type protobuf from 'protobufjs';
import type { Logger } from '../../log.js';
import type { RegistryService } from '../service.js';
import type { RegistryMetrics } from '../metrics.js';
import { messageType } from '../wire/proto.js';
import { Errors } from '../wire/rpc-error.js';
import { MAX_RECEIVE_BYTES } from '../store/kv-ops.js';
import type { AuthStore } from '../auth.js';
import type { WatchBacklog } from './watch-backlog.js';

/**
 * etcd's gateway reads any body, turns it into a protobuf message, and gRPC refuses one over MAX_RECEIVE_BYTES
 * (429 "received message larger than max (N vs. 2097152)"). N is that message's size, so a body is read up to
 * this bound (a base64 value 4 times the limit) to name it; beyond, the answer says the body was over the bound.
 */
export const MAX_BODY_BYTES = 4 * MAX_RECEIVE_BYTES;

const typeCache = new Map<string, protobuf.Type>();
export function typeOf(name: string): protobuf.Type {
  let t = typeCache.get(name);
  if (!t) typeCache.set(name, (t = messageType(name)));
  return t;
}

export const GATEWAY_HEADERS = {
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
};

export interface GatewayDeps {
  svc: RegistryService;
  log: Logger;
  metrics: RegistryMetrics;
  backlog: WatchBacklog;
  auth?: AuthStore;
}

export function authenticate(deps: { svc: RegistryService; auth?: AuthStore }, msg: Record<string, unknown>): Record<string, unknown> {
  if (!deps.auth) throw Errors.authNotEnabled();
  return { header: deps.svc.header(), token: deps.auth.authenticate(msg.name as string | undefined, msg.password as string | undefined) };
}

/** Refuses a decoded request whose protobuf encoding is over gRPC's receive limit, as etcd's gateway and gRPC server do. */
export function checkMessageSize(type: protobuf.Type, msg: Record<string, unknown>): void {
  const size = type.encode(type.fromObject(msg)).finish().length;
  if (size > MAX_RECEIVE_BYTES) throw Errors.messageTooLarge(size, MAX_RECEIVE_BYTES);
}
