#!/usr/bin/env node
/** The `vxtun` command. Each area registers its own subcommand; this file only wires them and reports errors. */
import { Command } from 'commander';
import { addLogLevelOption, commandLogger, runProgram } from './log.js';
import { runStatic } from './static.js';
import { registerRegistryCommand } from './registry/index.js';
import { registerAgentCommand } from './agent-command.js';
import { registerCniCommand } from './cni/command.js';

const program = addLogLevelOption(new Command())
  .name('vxtun')
  .description('Userspace VXLAN overlay dataplane: TUN <-> VXLAN/UDP in worker threads, Flannel- and etcd-compatible.')
  .showHelpAfterError();

program
  .command('static')
  .description('Run the forwarder with a fixed peer list from a JSON config file (needs root or CAP_NET_ADMIN). SIGHUP reloads the peers.')
  .requiredOption('-c, --config <file>', 'config file: {vni, port, publicIp, subnet, vtepMac?, peers: [{publicIp, subnet, vtepMac}]}; see README')
  .option('--state-dir <dir>', 'where the VTEP MAC is kept across restarts (default: config stateDir or /var/lib/vxtun)')
  .option('--workers <n>', 'queue worker threads (default: number of cores)', (v) => positiveInt(v, '--workers'))
  .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', (v) => nonNegativeInt(v, '--stats-interval'), 0)
  .action(async (flags, cmd: Command) => {
    await runStatic({ config: flags.config, stateDir: flags.stateDir, workers: flags.workers, statsInterval: flags.statsInterval }, commandLogger(cmd));
  });

registerAgentCommand(program);
registerRegistryCommand(program);
registerCniCommand(program);

// The benchmark is not part of the forwarder: its module (testbed, runners, report) is loaded only when asked
// for, and parses its own options (`vxtun bench --help`).
program
  .command('bench')
  .description('measure underlay, kernel VXLAN (as Flannel sets it up) and vxtun on a two-namespace testbed (needs root; `vxtun bench --help`)')
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .argument('[options...]')
  .action(async (args: string[]) => {
    const bench = (await import(BENCH_MODULE)) as { configureBenchCommand(cmd: Command): Command };
    await bench.configureBenchCommand(new Command('vxtun bench')).parseAsync(args, { from: 'user' });
  });
/** Resolved at run time, so the forwarder's module graph never includes the benchmark. */
const BENCH_MODULE = '../bench/command.js';

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}
function nonNegativeInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

await runProgram(program);
