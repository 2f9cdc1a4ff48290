import fs from 'node:fs/promises';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { VxtunError } from '../../dataplane/errors.js';
import { prefixEnd } from '../etcd-wire.js';
import { Errors } from './wire/rpc-error.js';
import { rangeBounds } from './store/kv-ops.js';
import type { RequestOp, TxnRequest } from './store/requests.js';

/**
 * Optional user/password auth with etcd-style simple tokens (`/v3/auth/authenticate`, then the raw token in
 * `Authorization`, or gRPC metadata `token`). Users hold roles; a role grants read or read-write on one key
 * prefix. `root` may do everything. Leases need no token, as in etcd; revoking one needs write access to its keys.
 *
 * File format (--auth-file):
 *   {"roles": {"flannel": {"prefix": "/coreos.com/network/", "readOnly": false}},
 *    "users": {"flannel": {"password": "…", "roles": ["flannel"]}, "root": {"password": "…"}}}
 */
const AuthFile = z.object({
  roles: z.record(z.string(), z.object({ prefix: z.string().min(1), readOnly: z.boolean().default(false) })).default({}),
  users: z.record(z.string().min(1), z.object({ password: z.string().min(1), roles: z.array(z.string()).default([]) })),
});

/** Tokens expire after this long without use (etcd's --auth-token-ttl default). */
const TOKEN_TTL_MS = 300_000;

interface Perm {
  from: string;
  to: string;
  write: boolean;
}
interface User {
  digest: Buffer;
  perms: Perm[];
  root: boolean;
}
export interface KeyRange {
  from: string;
  to: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class AuthStore {
  private readonly tokens = new Map<string, { user: string; expires: number }>();
  private counter = 0;

  private constructor(
    private readonly users: Map<string, User>,
    private readonly roles: string[],
  ) {}

  /** User and role names, sorted as etcd lists them. */
  get userNames(): string[] {
    return [...this.users.keys()].sort();
  }
  get roleNames(): string[] {
    return [...this.roles].sort();
  }

  static async load(file: string): Promise<AuthStore> {
    let parsed: z.infer<typeof AuthFile>;
    try {
      parsed = AuthFile.parse(JSON.parse(await fs.readFile(file, 'utf8')));
    } catch (err) {
      const detail =
        err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
      throw new VxtunError('VXTUN_ERR_CONFIG', `auth file ${file} is invalid (${detail}); see \`vxtun registry --help\` for its format`, {
        cause: err,
      });
    }
    const users = new Map<string, User>();
    for (const [name, u] of Object.entries(parsed.users)) {
      const perms: Perm[] = [];
      for (const r of u.roles) {
        const role = parsed.roles[r];
        if (!role)
          throw new VxtunError('VXTUN_ERR_CONFIG', `auth file ${file}: user ${name} has unknown role ${r}; define it under "roles"`);
        const { from, to } = rangeBounds(Buffer.from(role.prefix), prefixEnd(Buffer.from(role.prefix)));
        perms.push({ from, to: to ?? '', write: !role.readOnly });
      }
      users.set(name, { digest: digest(u.password), perms, root: name === 'root' });
    }
    return new AuthStore(users, Object.keys(parsed.roles));
  }

  authenticate(name: string | undefined, password: string | undefined): string {
    const user = name ? this.users.get(name) : undefined;
    if (!user || !timingSafeEqual(user.digest, digest(password ?? ''))) throw Errors.authFailed();
    const token = `${randomBytes(12).toString('base64url')}.${++this.counter}`;
    this.tokens.set(token, { user: name!, expires: Date.now() + TOKEN_TTL_MS });
    return token;
  }

  private userOf(token: string | undefined): User {
    if (!token) throw Errors.userEmpty();
    const t = this.tokens.get(token);
    if (!t || t.expires < Date.now()) {
      this.tokens.delete(token ?? '');
      throw Errors.invalidToken();
    }
    t.expires = Date.now() + TOKEN_TTL_MS;
    return this.users.get(t.user)!;
  }

  /** Throws unless the token's user may read (or write) every key of every range. */
  check(token: string | undefined, ranges: KeyRange[], write: boolean): void {
    const user = this.userOf(token);
    if (user.root) return;
    for (const r of ranges) {
      const ok = user.perms.some((p) => (!write || p.write) && covers(p, r));
      if (!ok) throw Errors.permissionDenied();
    }
  }

  requireRoot(token: string | undefined): void {
    if (!this.userOf(token).root) throw Errors.permissionDenied();
  }
}

function covers(p: Perm, r: KeyRange): boolean {
  if (r.from < p.from) return false;
  if (r.to === undefined) return p.to === '' || r.from < p.to;
  if (r.to === '') return p.to === '';
  return p.to === '' || r.to <= p.to;
}

/** The key ranges a request reads and writes. */
export function rangesOf(method: string, msg: Record<string, unknown>): { read: KeyRange[]; write: KeyRange[] } {
  const read: KeyRange[] = [];
  const write: KeyRange[] = [];
  const r = (m: { key?: Buffer; range_end?: Buffer }) => rangeBounds(m.key ?? Buffer.alloc(0), m.range_end);
  const ops = (list: RequestOp[] | undefined) => {
    for (const op of list ?? []) {
      if (op.request_range) read.push(r(op.request_range));
      if (op.request_put) write.push(r(op.request_put));
      if (op.request_delete_range) write.push(r(op.request_delete_range));
      if (op.request_txn) txn(op.request_txn);
    }
  };
  const txn = (t: TxnRequest) => {
    for (const c of t.compare ?? []) read.push(r(c));
    ops(t.success);
    ops(t.failure);
  };
  switch (method) {
    case 'Range':
      read.push(r(msg));
      break;
    case 'Put':
    case 'DeleteRange':
      write.push(r(msg));
      break;
    case 'Txn':
      txn(msg as TxnRequest);
      break;
  }
  return { read, write };
}

/**
 * Methods for which etcd reads the caller's token even with auth off: a token there is refused as invalid
 * (etcd 3.4.23 answers 401 "etcdserver: invalid auth token"); lease reads, Status and MemberList ignore it.
 */
const TOKEN_CHECKED = new Set([
  'Range',
  'Put',
  'DeleteRange',
  'Txn',
  'Compact',
  'LeaseGrant',
  'LeaseRevoke',
  'UserList',
  'RoleList',
  'Watch',
]);

/** Checks a request against the caller's token; with auth off, only that no token was given where etcd looks. */
export function authorize(
  auth: AuthStore | undefined,
  method: string,
  msg: Record<string, unknown>,
  token: string | undefined,
  leaseKeys: (id: unknown) => string[],
): void {
  if (!auth) {
    if (token !== undefined && TOKEN_CHECKED.has(method)) throw Errors.invalidToken();
    return;
  }
  switch (method) {
    case 'Range':
    case 'Put':
    case 'DeleteRange':
    case 'Txn': {
      const { read, write } = rangesOf(method, msg);
      auth.check(token, read, false);
      auth.check(token, write, true);
      return;
    }
    case 'Compact':
    case 'UserList':
    case 'RoleList':
      auth.requireRoot(token);
      return;
    case 'LeaseRevoke': {
      const keys = leaseKeys(msg.ID);
      if (keys.length > 0)
        auth.check(
          token,
          keys.map((from) => ({ from, to: undefined })),
          true,
        );
      return;
    }
  }
}

/** The check a watch stream applies to each range it is asked to watch (see WatchStream's `mayRead`). */
export function watchAccess(auth: AuthStore | undefined, token: string | undefined): ((range: KeyRange) => void) | undefined {
  if (auth) return (range) => auth.check(token, [range], false);
  return token !== undefined ? () => authorize(undefined, 'Watch', {}, token, () => []) : undefined;
}

const CODE_NAMES: Record<number, string> = { 3: 'InvalidArgument', 7: 'PermissionDenied', 16: 'Unauthenticated' };
/** How etcd words an auth failure inside a watch stream's cancel_reason. */
export const grpcErrorText = (code: number, message: string) => `rpc error: code = ${CODE_NAMES[code] ?? 'Unknown'} desc = ${message}`;
