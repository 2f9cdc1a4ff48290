/** The `vxtun` command tree. Each area registers its own subcommand; this file only wires them. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addEnvVars, intInRange, reportUsageErrors } from './cli-options.js';
import { addLogOptions, commandLogger } from './log.js';
import { runStatic } from './static.js';
import { registerRegistryCommand } from './registry/index.js';
import { registerAgentCommand } from './agent-command.js';
import { registerCniCommand } from './cni/command.js';
import { registerStatusCommand } from './status-command.js';
import { MAX_WORKERS } from '../dataplane/dataplane.js';

/** vxtun's package.json: two levels up from the compiled file (dist/control/), one from the source (control/). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vxtun' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

/** The whole command tree, without running it (the help test walks it). */
export function buildProgram(): Command {
  const program = reportUsageErrors(addLogOptions(new Command()))
    .name('vxtun')
    .version(packageVersion(), '-V, --version', 'print the vxtun version')
    .description('Userspace VXLAN overlay dataplane: TUN <-> VXLAN/UDP in worker threads, Flannel- and etcd-compatible.')
    .addHelpText(
      'after',
      `
Examples:
  sudo vxtun static --config /etc/vxtun/static.json       a fixed peer list from a file
  vxtun registry --data-dir /var/lib/vxtun/registry       the embedded etcd-compatible registry
  sudo vxtun agent --public-ip 192.0.2.1 --etcd-endpoints http://10.0.0.5:2379
  vxtun agent --help                                      every flag of one command, with its environment variable`,
    );

  addEnvVars(program.command('static'), () => 'VXTUN_')
    .description(
      'Run the forwarder with a fixed peer list from a JSON config file (needs root or CAP_NET_ADMIN). SIGHUP reloads the peers.',
    )
    .requiredOption(
      '-c, --config <file>',
      'config file: {vni, port, publicIp, subnet, vtepMac?, peers: [{publicIp, subnet, vtepMac}]}; see README',
    )
    .option('--state-dir <dir>', 'where the VTEP MAC is kept across restarts (default: config stateDir or /var/lib/vxtun)')
    .option(
      '--workers <n>',
      `queue worker threads, 1..${MAX_WORKERS} (default: config workers, else number of cores)`,
      intInRange(1, MAX_WORKERS),
    )
    .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', intInRange(0), 0)
    .option(
      '--metrics-listen <addr>',
      'serve Prometheus /metrics, /healthz and /readyz on [host:]port (a port alone: loopback; default: off)',
    )
    .addHelpText(
      'after',
      `
Examples:
  sudo vxtun static --config /etc/vxtun/static.json
  sudo vxtun static --config /etc/vxtun/static.json --metrics-listen 9108    curl localhost:9108/metrics
  sudo vxtun static -c peers.json --workers 2 --stats-interval 10 --log-level debug
  sudo kill -HUP $(pidof vxtun)        re-read the peers after editing the file

Config file:
  { "publicIp": "192.0.2.1", "subnet": "10.244.1.0/24",
    "peers": [ { "publicIp": "192.0.2.2", "subnet": "10.244.2.0/24", "vtepMac": "02:00:00:00:02:01" } ] }`,
    )
    .action(async (flags, cmd: Command) => {
      await runStatic(
        {
          config: flags.config,
          stateDir: flags.stateDir,
          workers: flags.workers,
          statsInterval: flags.statsInterval,
          metricsListen: flags.metricsListen,
        },
        commandLogger(cmd),
      );
    });

  registerAgentCommand(program);
  registerRegistryCommand(program);
  registerCniCommand(program);
  registerStatusCommand(program);

  // The benchmark is not part of the forwarder: its module (testbed, runners, report) is loaded only when asked
  // for, and parses its own options (`vxtun bench --help`).
  program
    .command('bench')
    .description(
      'measure underlay, kernel VXLAN (as Flannel sets it up) and vxtun on a two-namespace testbed (needs root; `vxtun bench --help`)',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]')
    .action(async (args: string[]) => {
      const bench = (await import(BENCH_MODULE)) as { configureBenchCommand(cmd: Command): Command };
      await bench.configureBenchCommand(new Command('vxtun bench')).parseAsync(args, { from: 'user' });
    });
  return program;
}

/** Resolved at run time, so the forwarder's module graph never includes the benchmark. */
const BENCH_MODULE = '../bench/command.js';
