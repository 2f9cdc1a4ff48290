/** The `vxtun agent` subcommand: flags named like flanneld's, handed to runAgent. */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { VxtunError } from '../dataplane/errors.js';
import { runAgent } from './agent.js';
import { createLogger } from './log.js';
import { DEFAULT_STATE_DIR } from './state.js';
import { DEFAULT_LEASE_TTL_SECONDS } from './subnet/manager.js';
import { DEFAULT_SUBNET_FILE } from './subnet/subnet-env.js';

/** `24h`, `90m`, `60s` or plain seconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a duration such as 24h, 90m or 60s, got "${v}"`);
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

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
  etcdUsername?: string; etcdPassword?: string; publicIp: string; publicIpv6?: string; subnetFile: string; stateDir: string; tunName: string;
  workers?: number; subnetLeaseTtl: number; statsInterval: number; waitTimeout?: number; subnetLeaseRenewMargin?: number;
  healthzIp: string; healthzPort: number;
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port in 0..65535, got "${v}"`);
  return n;
}

/** flanneld reads every flag also from FLANNELD_<FLAG> (dashes as underscores); a flag on the command line wins. */
function flanneldOption(flags: string, description?: string): Option {
  const opt = new Option(flags, description);
  return opt.long ? opt.env(`FLANNELD_${opt.long.slice(2).toUpperCase().replace(/-/g, '_')}`) : opt;
}

export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent');
  agent.createOption = flanneldOption;
  agent
    .description('Join a Flannel-compatible overlay: take a subnet lease from etcd (or `vxtun registry`), run the forwarder on it, write subnet.env and follow the other hosts\' leases (needs root or CAP_NET_ADMIN)')
    .requiredOption('--public-ip <ip>', 'IPv4 address other hosts reach this one on; also identifies this host\'s lease')
    .option('--public-ipv6 <ip>', 'IPv6 address advertised as PublicIPv6 in a dual-stack lease (vxtun carries both families over --public-ip)')
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
    .option('--workers <n>', 'queue worker threads (default: number of cores)', positiveInt)
    .option('--subnet-lease-ttl <duration>', 'TTL of the subnet lease, renewed before it runs out (Flannel: 24h)', parseDuration, DEFAULT_LEASE_TTL_SECONDS)
    .option('--subnet-lease-renew-margin <minutes>', 'renew the lease this many minutes before it expires (flanneld: 60; default: 60, or a quarter of a shorter TTL)', positiveInt)
    .option('--wait-timeout <duration>', 'at start, give up waiting for the registry, the network config and a lease after this long (default: wait forever)', parseDuration)
    .option('--healthz-ip <ip>', 'address of the /healthz and /readyz endpoint', '127.0.0.1')
    .option('--healthz-port <port>', 'port of the /healthz and /readyz endpoint (0 = off)', port, 0)
    .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', (v) => (v === '0' ? 0 : positiveInt(v)), 0)
    .addHelpText('after', '\nEvery flag can also be given as an environment variable FLANNELD_<FLAG> (e.g. FLANNELD_ETCD_ENDPOINTS), as flanneld reads them.')
    .action(async (f: AgentFlags) => {
      const log = createLogger(program.opts().logLevel);
      const endpoints = f.etcdEndpoints.split(',').map((e) => e.trim()).filter(Boolean);
      const tls = f.etcdCafile || f.etcdCertfile || f.etcdKeyfile
        ? { ca: readPem(f.etcdCafile, '--etcd-cafile'), cert: readPem(f.etcdCertfile, '--etcd-certfile'), key: readPem(f.etcdKeyfile, '--etcd-keyfile') }
        : undefined;
      const auth = f.etcdUsername !== undefined ? { user: f.etcdUsername, password: f.etcdPassword ?? '' } : undefined;
      await runAgent({
        etcd: { endpoints, tls, auth }, prefix: f.etcdPrefix, publicIp: f.publicIp, publicIpv6: f.publicIpv6, subnetFile: f.subnetFile, stateDir: f.stateDir,
        tunName: f.tunName, workers: f.workers, leaseTtlSeconds: f.subnetLeaseTtl, statsInterval: f.statsInterval,
        renewMarginSeconds: f.subnetLeaseRenewMargin === undefined ? undefined : f.subnetLeaseRenewMargin * 60,
        waitTimeoutSeconds: f.waitTimeout, healthz: { host: f.healthzIp, port: f.healthzPort },
      }, log);
    });
}
