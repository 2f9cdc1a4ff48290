/**
 * The one logger and the one error printer of every vxtun command (static, agent, registry, bench): pino records
 * on stdout, JSON lines or pretty lines (--log-format / VXTUN_LOG_FORMAT), level from --log-level or
 * VXTUN_LOG_LEVEL; a failed command prints `<name>: CODE: message` on stderr and exits 1.
 */
import { Option, type Command } from 'commander';
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { isVxtunError } from '../dataplane/errors.js';

export type { Logger } from 'pino';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The one timestamp format: ISO 8601 in UTC with milliseconds, in JSON lines and pretty lines alike. */
const PRETTY_TIME = "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'";

/**
 * `json`: pino lines on stdout; `pretty`: one readable line per record (pino-pretty), coloured on a terminal;
 * `auto`: pretty when stdout is a terminal, JSON otherwise (pipes, files, journald).
 */
export function createLogger(
  level = process.env.VXTUN_LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  const opts = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return pino(opts, destination);
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!pretty) return pino(opts);
  return pino(
    opts,
    pinoPretty({
      sync: true,
      singleLine: true,
      colorize: process.stdout.isTTY === true,
      translateTime: PRETTY_TIME,
      ignore: 'pid,hostname',
    }),
  );
}

/** `--log-level` and `--log-format`, which every entry point carries; read back with commandLogger(). */
export function addLogOptions(program: Command): Command {
  return program
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info').env('VXTUN_LOG_LEVEL'))
    .addOption(
      new Option('--log-format <format>', 'log lines: pretty on a terminal and JSON otherwise (auto), or always json / pretty')
        .choices(LOG_FORMATS)
        .default('auto')
        .env('VXTUN_LOG_FORMAT'),
    );
}

/** The logger for a subcommand's action: the level and format given to the root command, or the defaults. */
export function commandLogger(cmd: Command): Logger {
  let root = cmd;
  while (root.parent) root = root.parent;
  const o = root.opts() as { logLevel?: string; logFormat?: LogFormat };
  return createLogger(o.logLevel, undefined, o.logFormat ?? 'auto');
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
