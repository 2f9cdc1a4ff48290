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
import { MAX_REQUEST_BYTES } from '../store/kv-ops.js';
import type { AuthStore } from '../auth.js';

/** Base64 makes a body up to 4/3 of the request it carries; anything beyond cannot fit. */
export const MAX_BODY_BYTES = Math.ceil((MAX_REQUEST_BYTES * 4) / 3) + 64 * 1024;

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

export interface GatewayDeps { svc: RegistryService; log: Logger; metrics: RegistryMetrics; auth?: AuthStore }

export function authenticate(deps: { svc: RegistryService; auth?: AuthStore }, msg: Record<string, unknown>): Record<string, unknown> {
  if (!deps.auth) throw Errors.authNotEnabled();
  return { header: deps.svc.header(), token: deps.auth.authenticate(msg.name as string | undefined, msg.password as string | undefined) };
}
