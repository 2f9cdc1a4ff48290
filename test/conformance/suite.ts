/**
 * One conformance suite for the registry client and the wire format; each *.test.ts runs it against one server.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { EtcdClient } from '../../control/etcd/index.js';
import { kvTests } from './suite-kv.js';
import { leaseTests } from './suite-lease.js';
import { watchTests } from './suite-watch.js';
import { wireTests } from './suite-wire.js';
import type { RunningServer, Target } from './targets.js';

export interface SuiteContext {
  url: string;
  client: EtcdClient;
  target: Target;
  /** Restarts the server on the same port and data dir. */
  restart(): Promise<void>;
}

export function conformanceSuite(target: Target): void {
  describe(target.name, () => {
    let server: RunningServer | undefined;
    const ctx = { target } as SuiteContext;
    beforeAll(async () => {
      server = await target.start();
      ctx.url = server.url;
      ctx.restart = () => server!.restart();
      ctx.client = new EtcdClient({ endpoints: [server.url], timeoutMs: 5000 });
    });
    afterAll(async () => {
      ctx.client?.close();
      await server?.stop();
    });
    kvTests(ctx);
    leaseTests(ctx);
    watchTests(ctx);
    wireTests(ctx);
  });
}
