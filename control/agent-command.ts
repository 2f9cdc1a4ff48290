/** The `vxtun agent` subcommand: flags named like flanneld's, handed to runAgent. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { addEnvVars, intInRange, parseDuration } from './cli-options.js';
import { MAX_WORKERS } from '../dataplane/dataplane.js';
import { VxtunError } from '../dataplane/errors.js';
import { runAgent } from './agent.js';
import { commandLogger } from './log.js';
import { DEFAULT_STATE_DIR } from './state.js';
import { DEFAULT_LEASE_TTL_SECONDS } from './subnet/manager.js';
import { DEFAULT_SUBNET_FILE } from './subnet/subnet-env.js';

export { parseDuration };

/** Flags flanneld has too read flanneld's variables (`FLANNELD_ETCD_ENDPOINTS`), so its environment files keep working. */
const FLANNELD_FLAGS = /^(etcd-|public-ip$|subnet-file$)/;

function readPem(file: string | undefined, flag: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

interface AgentFlags {
  etcdEndpoints: string; etcdPrefix: string; etcdCafile?: string; etcdCertfile?: string; etcdKeyfile?: string;
  etcdUsername?: string; etcdPassword?: string; publicIp: string; subnetFile: string; stateDir: string; tunName: string;
  workers?: number; subnetLeaseTtl: number; statsInterval: number;
}

export function registerAgentCommand(program: Command): void {
  addEnvVars(program.command('agent'), (flag) => (FLANNELD_FLAGS.test(flag) ? 'FLANNELD_' : 'VXTUN_'))
    .description('Join a Flannel-compatible overlay: take a subnet lease from etcd (or `vxtun registry`), run the forwarder on it, write subnet.env and follow the other hosts\' leases (needs root or CAP_NET_ADMIN)')
    .requiredOption('--public-ip <ip>', 'IPv4 address other hosts reach this one on; also identifies this host\'s lease')
    .option('--etcd-endpoints <urls>', 'comma-separated registry URLs', 'http://127.0.0.1:2379')
    .option('--etcd-prefix <prefix>', 'registry prefix holding config and subnets/', '/coreos.com/network')
    .option('--etcd-cafile <file>', 'CA (PEM) that signed the registry\'s certificate')
    .option('--etcd-certfile <file>', 'client certificate (PEM)')
    .option('--etcd-keyfile <file>', 'client key (PEM)')
    .option('--etcd-username <user>', 'registry user')
    .option('--etcd-password <password>', 'registry password')
    .option('--subnet-file <file>', 'where to write FLANNEL_NETWORK/SUBNET/MTU/IPMASQ for the CNI plugin', DEFAULT_SUBNET_FILE)
    .option('--state-dir <dir>', 'where the VTEP MAC is kept across restarts', DEFAULT_STATE_DIR)
    .option('--tun-name <name>', 'TUN device name', 'vxtun0')
    .option('--workers <n>', `queue worker threads, 1..${MAX_WORKERS} (default: number of cores)`, intInRange(1, MAX_WORKERS))
    .addOption(new Option('--subnet-lease-ttl <duration>', 'TTL of the subnet lease, renewed before it runs out (Flannel: 24h)')
      .argParser(parseDuration).default(DEFAULT_LEASE_TTL_SECONDS, `${DEFAULT_LEASE_TTL_SECONDS / 3600}h`))
    .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', intInRange(0), 0)
    .addHelpText('after', `
Examples:
  sudo vxtun agent --public-ip 192.0.2.1 --etcd-endpoints http://10.0.0.5:2379
  sudo vxtun agent --public-ip 192.0.2.1 --etcd-endpoints https://a:2379,https://b:2379 \\
       --etcd-cafile ca.pem --etcd-certfile node.pem --etcd-keyfile node-key.pem --subnet-lease-ttl 24h
  sudo FLANNELD_PUBLIC_IP=192.0.2.1 FLANNELD_ETCD_ENDPOINTS=http://10.0.0.5:2379 vxtun agent

Needs a network config at <prefix>/config, e.g.
  etcdctl put /coreos.com/network/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`)
    .action(async (f: AgentFlags, c: Command) => {
      const log = commandLogger(c);
      const endpoints = f.etcdEndpoints.split(',').map((e) => e.trim()).filter(Boolean);
      const tls = f.etcdCafile || f.etcdCertfile || f.etcdKeyfile
        ? { ca: readPem(f.etcdCafile, '--etcd-cafile'), cert: readPem(f.etcdCertfile, '--etcd-certfile'), key: readPem(f.etcdKeyfile, '--etcd-keyfile') }
        : undefined;
      const auth = f.etcdUsername !== undefined ? { user: f.etcdUsername, password: f.etcdPassword ?? '' } : undefined;
      await runAgent({
        etcd: { endpoints, tls, auth }, prefix: f.etcdPrefix, publicIp: f.publicIp, subnetFile: f.subnetFile, stateDir: f.stateDir,
        tunName: f.tunName, workers: f.workers, leaseTtlSeconds: f.subnetLeaseTtl, statsInterval: f.statsInterval,
      }, log);
    });
}
