#!/usr/bin/env node
/** Stand-alone entry (`node dist/control/registry/main.js registry ...`), used by crash tests; `vxtun registry` is the same command. */
import { Command } from 'commander';
import { registerRegistryCommand } from './command.js';
import { isVxtunError } from '../../dataplane/errors.js';

const program = new Command('vxtun');
registerRegistryCommand(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${isVxtunError(err) ? err.code + ': ' : ''}${(err as Error).message}\n`);
  process.exit(1);
});
