import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs/promises';
import { createLogger, type Logger } from '../log.js';
import { VxtunError } from '../../dataplane/errors.js';
import { RegistryService } from './service.js';
import { RegistryMetrics } from './metrics.js';
import { createGatewayHandler } from './transport/http-gateway.js';
import { createGrpcServer } from './transport/grpc-services.js';
import { WatchBacklog } from './transport/watch-backlog.js';
import { createSharedListener, type TlsFiles } from './transport/listener.js';
import { AuthStore } from './auth.js';

export interface RegistryOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  dataDir: string;
  /** Required with `keyFile` for a non-loopback listen unless `insecure`. */
  certFile?: string;
  keyFile?: string;
  /** Client certificates signed by this CA are required when set. */
  trustedCaFile?: string;
  /** Users and prefix-limited roles (see auth.ts); when set, KV requests need a token. */
  authFile?: string;
  /** Allow plain-text on a non-loopback address. */
  insecure?: boolean;
  /** Keep this many revisions of history; older ones are compacted automatically (0 = never). Default 100000. */
  historyRevisions?: number;
  /** Snapshot the state and truncate the log after this many records. Default 10000. */
  snapshotEvery?: number;
  /** Interval of progress notifications for watches that ask for them. Default 10 min (as etcd). */
  progressIntervalMs?: number;
  logger?: Logger;
  /** Called if the registry cannot go on: the log failed and the data directory cannot even be read back. */
  onFatal?: (err: Error) => void;
}

export interface RunningRegistry {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new VxtunError('VXTUN_ERR_CONFIG', `--listen ${JSON.stringify(listen)} is not host:port (for example 127.0.0.1:2379)`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1], port: Number(m[2]) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** Starts the embedded etcd-compatible registry: recovery from dataDir, then HTTP/JSON and gRPC on one port. */
export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const log = opts.logger ?? createLogger();
  const { host, port } = parseListen(opts.listen);
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    throw new VxtunError('VXTUN_ERR_CONFIG', 'give both --cert-file and --key-file, or neither');
  }
  let tlsFiles: TlsFiles | undefined;
  if (opts.certFile && opts.keyFile) {
    tlsFiles = {
      cert: await fs.readFile(opts.certFile),
      key: await fs.readFile(opts.keyFile),
      ca: opts.trustedCaFile ? await fs.readFile(opts.trustedCaFile) : undefined,
    };
  } else if (opts.trustedCaFile) {
    throw new VxtunError('VXTUN_ERR_CONFIG', '--trusted-ca-file needs --cert-file and --key-file');
  }
  if (!isLoopback(host) && !tlsFiles && !opts.insecure) {
    throw new VxtunError(
      'VXTUN_ERR_REGISTRY_LISTEN',
      `refusing to serve plain-text on non-loopback address ${host}: give --cert-file and --key-file, or --insecure if the network is trusted`,
    );
  }

  const auth = opts.authFile ? await AuthStore.load(opts.authFile) : undefined;
  const metrics = new RegistryMetrics();
  const svc = await RegistryService.open({
    dataDir: opts.dataDir,
    log,
    metrics,
    snapshotEvery: opts.snapshotEvery,
    historyRevisions: opts.historyRevisions ?? 100_000,
    progressIntervalMs: opts.progressIntervalMs,
    onFatal: opts.onFatal,
  });
  metrics.bind({
    keys: () => svc.store.keyspace.size,
    watchers: () => svc.hub.size,
    revision: () => svc.store.rev,
    committed: () => svc.committed,
    diskBytes: () => svc.diskBytes(),
  });
  const scheme = tlsFiles ? 'https' : 'http';
  let url = '';
  // A watch is a request whose body may stay open for days: no whole-request deadline (Node's default is 300 s).
  const backlog = new WatchBacklog();
  const httpServer = http.createServer({ keepAlive: true, requestTimeout: 0 }, createGatewayHandler({ svc, log, metrics, backlog, auth }));
  const grpcServer = createGrpcServer(svc, metrics, log, () => url, backlog, auth);
  const shared = createSharedListener(httpServer, grpcServer, tlsFiles);

  try {
    await new Promise<void>((resolve, reject) => {
      shared.server.once('error', reject);
      shared.server.listen(port, host, () => {
        shared.server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await svc.close();
    throw new VxtunError(
      'VXTUN_ERR_REGISTRY_LISTEN',
      `cannot listen on ${opts.listen}: ${(err as Error).message}; pick another --listen address or stop what holds the port`,
      { cause: err },
    );
  }
  const addr = shared.server.address() as net.AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  url = `${scheme}://${urlHost}:${addr.port}`;
  log.info({ url, dataDir: opts.dataDir, tls: !!tlsFiles, clientCerts: !!tlsFiles?.ca, auth: !!auth }, 'registry listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          shared.server.close(() => resolve());
          shared.close();
          httpServer.closeAllConnections();
        });
        grpcServer.forceShutdown();
        await svc.close();
        log.info('registry stopped');
      })()),
  };
}
