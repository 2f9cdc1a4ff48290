import { Command } from 'commander';
import { addEnvVars, intInRange } from '../cli-options.js';
import { commandLogger } from '../log.js';
import { startRegistry } from './server.js';

/** Adds `vxtun registry`: the embedded etcd-compatible registry. */
export function registerRegistryCommand(program: Command): void {
  addEnvVars(program.command('registry'), () => 'VXTUN_REGISTRY_')
    .description(
      "run the embedded registry: a single-process server speaking etcd's v3 API (gRPC and the HTTP/JSON gateway on one port), persisted to --data-dir",
    )
    .option(
      '--listen <host:port>',
      'address to serve on; a non-loopback address needs --cert-file/--key-file or --insecure',
      '127.0.0.1:2379',
    )
    .option('--data-dir <dir>', 'directory for the write-ahead log and snapshots (created if missing)', 'vxtun-registry.data')
    .option('--cert-file <file>', 'TLS certificate (PEM) for clients')
    .option('--key-file <file>', 'TLS private key (PEM)')
    .option('--trusted-ca-file <file>', 'require client certificates signed by this CA (PEM)')
    .option(
      '--auth-file <file>',
      'enable user/password auth; JSON {"roles":{"r":{"prefix":"/p/","readOnly":false}},"users":{"u":{"password":"…","roles":["r"]},"root":{"password":"…"}}}',
    )
    .option('--insecure', 'allow plain-text on a non-loopback address (trusted networks only)', false)
    .option(
      '--history-revisions <n>',
      'revisions of history kept for watches; older ones are compacted (0 = keep all)',
      intInRange(0),
      100_000,
    )
    .option('--snapshot-every <n>', 'write a snapshot and truncate the log every n records', intInRange(0), 10_000)
    .option('--progress-interval <ms>', 'interval of watch progress notifications for watches that ask', intInRange(0), 600_000)
    .addHelpText(
      'after',
      `
Examples:
  vxtun registry --data-dir /var/lib/vxtun/registry
  vxtun registry --listen 10.0.0.5:2379 --cert-file server.pem --key-file server-key.pem --data-dir /var/lib/vxtun/registry
  VXTUN_REGISTRY_LISTEN=10.0.0.5:2379 vxtun registry --insecure --data-dir /var/lib/vxtun/registry

Clients: etcdctl --endpoints http://127.0.0.1:2379 get --prefix /coreos.com/network
         curl -s http://127.0.0.1:2379/v3/kv/range -d '{"key":"L2NvcmVvcy5jb20=","range_end":"AA=="}'
Writes are fsynced to --data-dir before they are acknowledged; the registry survives kill -9.
Leases expire like etcd's (minimum TTL 2 s) and restart at their full TTL after a restart.`,
    )
    .action(
      async (
        o: {
          listen: string;
          dataDir: string;
          certFile?: string;
          keyFile?: string;
          trustedCaFile?: string;
          authFile?: string;
          insecure: boolean;
          historyRevisions: number;
          snapshotEvery: number;
          progressInterval: number;
        },
        cmd: Command,
      ) => {
        const log = commandLogger(cmd);
        let stopping = false;
        const reg = await startRegistry({
          listen: o.listen,
          dataDir: o.dataDir,
          certFile: o.certFile,
          keyFile: o.keyFile,
          trustedCaFile: o.trustedCaFile,
          authFile: o.authFile,
          insecure: o.insecure,
          historyRevisions: o.historyRevisions,
          snapshotEvery: Math.max(1, o.snapshotEvery),
          progressIntervalMs: Math.max(100, o.progressInterval),
          logger: log,
          onFatal: () => {
            process.exitCode = 1;
            void stop('fatal');
          },
        });
        const stop = async (why: string) => {
          if (stopping) return;
          stopping = true;
          log.info({ signal: why }, 'stopping');
          await reg.close();
        };
        process.once('SIGTERM', () => void stop('SIGTERM'));
        process.once('SIGINT', () => void stop('SIGINT'));
      },
    );
}
