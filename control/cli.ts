#!/usr/bin/env node
/** The `vxtun` command. Each area registers its own subcommand; this file only wires them and reports errors. */
import { Command, Option } from 'commander';
import { createLogger } from './log.js';
import { runStatic } from './static.js';
import { isVxtunError } from '../dataplane/errors.js';
import { registerRegistryCommand } from './registry/command.js';
import { registerAgentCommand } from './agent-command.js';
import { registerBenchCommand } from '../bench/command.js';
import { registerCniCommand } from './cni/command.js';

const program = new Command();
program
  .name('vxtun')
  .description('Userspace VXLAN overlay dataplane: TUN <-> VXLAN/UDP in worker threads, Flannel- and etcd-compatible.')
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default(process.env.VXTUN_LOG_LEVEL ?? 'info'))
  .showHelpAfterError();

program
  .command('static')
  .description('Run the forwarder with a fixed peer list from a JSON config file (needs root or CAP_NET_ADMIN). SIGHUP reloads the peers.')
  .requiredOption('-c, --config <file>', 'config file: {vni, port, publicIp, subnet, vtepMac?, peers: [{publicIp, subnet, vtepMac}]}; see README')
  .option('--state-dir <dir>', 'where the VTEP MAC is kept across restarts (default: config stateDir or /var/lib/vxtun)')
  .option('--workers <n>', 'queue worker threads (default: number of cores)', (v) => positiveInt(v, '--workers'))
  .option('--stats-interval <seconds>', 'log counters every N seconds (0 = never)', (v) => nonNegativeInt(v, '--stats-interval'), 0)
  .action(async (flags) => {
    const log = createLogger(program.opts().logLevel);
    await runStatic({ config: flags.config, stateDir: flags.stateDir, workers: flags.workers, statsInterval: flags.statsInterval }, log);
  });

registerAgentCommand(program);
registerRegistryCommand(program);
registerBenchCommand(program);
registerCniCommand(program);

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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (isVxtunError(err)) {
    process.stderr.write(`vxtun: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`vxtun: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exitCode = 1;
}
