/**
 * The one logger and the one error printer of every vxtun command (static, agent, registry, bench): pino JSON
 * lines on stdout, level from --log-level or VXTUN_LOG_LEVEL; a failed command prints `<name>: CODE: message`
 * on stderr and exits 1.
 */
import { Option, type Command } from 'commander';
import { pino, type DestinationStream, type Logger } from 'pino';
import { isVxtunError } from '../dataplane/errors.js';

export type { Logger } from 'pino';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

export function createLogger(level = process.env.VXTUN_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const opts = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(opts) : pino(opts, destination);
}

/** The `--log-level` option every entry point carries; read it back with `program.opts().logLevel`. */
export function addLogLevelOption(program: Command): Command {
  return program.addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(process.env.VXTUN_LOG_LEVEL ?? 'info'));
}

/** The logger for a subcommand's action: the level given to the root command, or the default. */
export function commandLogger(cmd: Command): Logger {
  let root = cmd;
  while (root.parent) root = root.parent;
  return createLogger(root.opts().logLevel as string | undefined);
}

/** Prints an error the way every vxtun command does: `name: CODE: message` for a VxtunError, the stack otherwise. */
function printError(name: string, err: unknown): void {
  if (isVxtunError(err)) process.stderr.write(`${name}: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`${name}: ${(err as Error)?.stack ?? String(err)}\n`);
}

/** Parses argv and runs the command; a thrown error is printed and sets exit status 1. */
export async function runProgram(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    printError(program.name(), err);
    process.exitCode = 1;
  }
}
