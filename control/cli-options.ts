/**
 * What every `vxtun` command shares on its command line: value parsers whose refusals read the same, the
 * environment variable behind every flag (shown in --help), and commander's own usage errors printed as
 * `vxtun: VXTUN_ERR_CONFIG: …` without a stack trace.
 */
import { InvalidArgumentError, type Command, type Option } from 'commander';

/** `24h`, `90m`, `60s` or plain seconds, as a whole number of seconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a duration such as 24h, 90m or 60s, got "${v}"`);
  return n;
}

/** A parser for an integer flag in [min, max]. */
export function intInRange(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected an integer of at least ${min}` : `expected an integer in ${min}..${max}`,
      );
    }
    return n;
  };
}

/**
 * Gives every option added to `cmd` from now on an environment variable, `<prefix><FLAG_NAME>` (`--tun-name` ->
 * `VXTUN_TUN_NAME`), unless it names its own; the flag wins over the variable, the variable over the default, and
 * --help shows it. `prefixOf` may pick another prefix per flag (flanneld's own flags read `FLANNELD_…`, as flanneld
 * does). Call it before adding the options: commander wires an option's variable when the option is added.
 */
export function addEnvVars(cmd: Command, prefixOf: (flag: string) => string): Command {
  const addOption = cmd.addOption.bind(cmd);
  cmd.addOption = (opt: Option) => {
    if (opt.envVar === undefined && opt.long !== undefined && !opt.negate && opt.long !== '--help' && opt.long !== '--version') {
      const flag = opt.long.replace(/^--/, '');
      opt.env(`${prefixOf(flag)}${flag.replace(/-/g, '_').toUpperCase()}`);
    }
    return addOption(opt);
  };
  return cmd;
}

/**
 * Usage errors (unknown option, bad value, missing required option) as `<name>: VXTUN_ERR_CONFIG: …` plus a pointer
 * to --help, exit status 1. Set on the root command before its subcommands are added: they inherit it.
 */
export function reportUsageErrors(program: Command): Command {
  return program
    .configureOutput({ outputError: (text, write) => write(`${program.name()}: VXTUN_ERR_CONFIG: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError('(add --help for usage and examples)');
}
