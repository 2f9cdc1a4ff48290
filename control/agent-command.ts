/** The `vxtun agent` subcommand: flags named like flanneld's, handed to runAgent. */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addEnvVars, intInRange, parseDuration } from './cli-options.js';
import { MAX_WORKERS } from '../dataplane/dataplane.js';
import { VxtunError } from '../dataplane/errors.js';
import { runAgent } from './agent.js';
import { commandLogger } from './log.js';
import { DEFAULT_STATE_DIR } from './state.js';
import { DEFAULT_LEASE_TTL_SECONDS } from './subnet/manager.js';
import { DEFAULT_SUBNET_FILE } from './subnet/subnet-env.js';

export { parseDuration };

function readPem(file: string | undefined, flag: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new VxtunError('VXTUN_ERR_CONFIG', `cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

interface AgentFlags {
  etcdEndpoints: string;
  etcdPrefix: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
  publicIp?: string;
  publicIpv6?: string;
  subnetFile: string;
  stateDir: string;
  tunName: string;
  workers?: number;
  tunnelGso: boolean;
  subnetLeaseTtl: number;
  iface: string[];
  ifaceRegex: string[];
  ifaceCanReach?: string;
  ipMasq: boolean;
  kubeSubnetMgr?: boolean;
  statsInterval: number;
  waitTimeout?: number;
  subnetLeaseRenewMargin?: number;
  healthzIp: string;
  healthzPort: number;
  metricsListen?: string;
}

/** Repeatable flags; a comma list (as FLANNELD_IFACE=eth0,eth1) counts as several. */
function collect(v: string, prev: string[]): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  ];
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port in 0..65535, got "${v}"`);
  return n;
}

export function registerAgentCommand(program: Command): void {
  // flanneld reads every flag also from FLANNELD_<FLAG> (dashes as underscores); a flag on the command line wins.
  addEnvVars(program.command('agent'), () => 'FLANNELD_')
    .description(
      "Join a Flannel-compatible overlay: take a subnet lease from etcd (or `vxtun registry`), run the forwarder on it, write subnet.env and follow the other hosts' leases (needs root or CAP_NET_ADMIN)",
    )
    .option(
      '--public-ip <ip>',
      "IPv4 address other hosts reach this one on, which also identifies this host's lease (default: the address of the chosen interface; set it behind NAT)",
    )
    .option(
      '--iface <name-or-ip>',
      'interface (or its IPv4 address) that carries the tunnel; repeatable, the first that exists wins (default: the interface holding --public-ip, else that of the default route)',
      collect,
      [],
    )
    .option('--iface-regex <regex>', 'choose the interface whose IPv4 address, or else name, matches; repeatable', collect, [])
    .option('--iface-can-reach <ip>', 'choose the interface the route to this address leaves by')
    .option(
      '--ip-masq',
      "masquerade traffic from this host's pods leaving the overlay, and accept the overlay in FORWARD (nftables, else iptables; removed on stop)",
      false,
    )
    .option('--kube-subnet-mgr', 'not supported: vxtun takes its leases from etcd only')
    .option(
      '--public-ipv6 <ip>',
      'IPv6 address advertised as PublicIPv6: in a dual-stack lease (vxtun carries both families over --public-ip), and in an IPv6-only network the underlay address (default: the global IPv6 address of the tunnel interface)',
    )
    .option('--etcd-endpoints <urls>', 'comma-separated registry URLs', 'http://127.0.0.1:2379')
    .option('--etcd-prefix <prefix>', 'registry prefix holding config and subnets/', '/coreos.com/network')
    .option('--etcd-cafile <file>', "CA (PEM) that signed the registry's certificate")
    .option('--etcd-certfile <file>', 'client certificate (PEM)')
    .option('--etcd-keyfile <file>', 'client key (PEM)')
    .option('--etcd-username <user>', 'registry user')
    .option('--etcd-password <password>', 'registry password')
    .option('--subnet-file <file>', 'where to write FLANNEL_NETWORK/SUBNET/MTU/IPMASQ for the CNI plugin', DEFAULT_SUBNET_FILE)
    .option('--state-dir <dir>', 'where the VTEP MAC is kept across restarts', DEFAULT_STATE_DIR)
    .option('--tun-name <name>', 'TUN device name', 'vxtun0')
    .option('--workers <n>', `queue worker threads, 1..${MAX_WORKERS} (default: number of cores)`, intInRange(1, MAX_WORKERS))
    .option(
      '--no-tunnel-gso',
      'send TCP super-packets as UDP segments, not whole through the TAP <tun-name>-gso that the kernel segments (Linux 6.17+)',
    )
    .addOption(
      new Option('--subnet-lease-ttl <duration>', 'TTL of the subnet lease, renewed before it runs out (Flannel: 24h)')
        .argParser(parseDuration)
        .default(DEFAULT_LEASE_TTL_SECONDS, `${DEFAULT_LEASE_TTL_SECONDS / 3600}h`),
    )
    .option(
      '--subnet-lease-renew-margin <minutes>',
      'renew the lease this many minutes before it expires (flanneld: 60; default: 60, or a quarter of a shorter TTL)',
      intInRange(1),
    )
    .option(
      '--wait-timeout <duration>',
      'at start, give up waiting for the registry, the network config and a lease after this long (default: wait forever)',
      parseDuration,
    )
    .option('--healthz-ip <ip>', 'address of the /healthz and /readyz endpoint', '127.0.0.1')
    .option('--healthz-port <port>', 'port of the /healthz and /readyz endpoint (0 = off)', port, 0)
    .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', intInRange(0), 0)
    .option(
      '--metrics-listen <addr>',
      'serve Prometheus /metrics, /healthz and /readyz on [host:]port (a port alone: loopback; default: off)',
    )
    .addHelpText(
      'after',
      `
Every flag can also be given as an environment variable FLANNELD_<FLAG> (e.g. FLANNELD_ETCD_ENDPOINTS), as flanneld reads them.

Examples:
  sudo vxtun agent --public-ip 192.0.2.1 --etcd-endpoints http://10.0.0.5:2379
  sudo vxtun agent --public-ip 192.0.2.1 --etcd-endpoints https://a:2379,https://b:2379 \\
       --etcd-cafile ca.pem --etcd-certfile node.pem --etcd-keyfile node-key.pem --subnet-lease-ttl 24h
  sudo FLANNELD_PUBLIC_IP=192.0.2.1 FLANNELD_ETCD_ENDPOINTS=http://10.0.0.5:2379 vxtun agent

Needs a network config at <prefix>/config, e.g.
  etcdctl put /coreos.com/network/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
    )
    .action(async (f: AgentFlags, c: Command) => {
      if (f.kubeSubnetMgr)
        throw new VxtunError(
          'VXTUN_ERR_CONFIG',
          '--kube-subnet-mgr is not supported: vxtun takes subnet leases from etcd (or `vxtun registry`) only; drop the flag and pass --etcd-endpoints',
        );
      const log = commandLogger(c);
      const endpoints = f.etcdEndpoints
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const tls =
        f.etcdCafile || f.etcdCertfile || f.etcdKeyfile
          ? {
              ca: readPem(f.etcdCafile, '--etcd-cafile'),
              cert: readPem(f.etcdCertfile, '--etcd-certfile'),
              key: readPem(f.etcdKeyfile, '--etcd-keyfile'),
            }
          : undefined;
      const auth = f.etcdUsername !== undefined ? { user: f.etcdUsername, password: f.etcdPassword ?? '' } : undefined;
      await runAgent(
        {
          etcd: { endpoints, tls, auth },
          prefix: f.etcdPrefix,
          publicIp: f.publicIp,
          publicIpv6: f.publicIpv6,
          subnetFile: f.subnetFile,
          stateDir: f.stateDir,
          tunName: f.tunName,
          workers: f.workers,
          tunnelGso: f.tunnelGso,
          leaseTtlSeconds: f.subnetLeaseTtl,
          statsInterval: f.statsInterval,
          renewMarginSeconds: f.subnetLeaseRenewMargin === undefined ? undefined : f.subnetLeaseRenewMargin * 60,
          waitTimeoutSeconds: f.waitTimeout,
          healthz: { host: f.healthzIp, port: f.healthzPort },
          metricsListen: f.metricsListen,
          iface: { iface: f.iface, ifaceRegex: f.ifaceRegex, ifaceCanReach: f.ifaceCanReach },
          ipMasq: f.ipMasq,
        },
        log,
      );
    });
}
