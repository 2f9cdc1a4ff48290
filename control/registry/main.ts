#!/usr/bin/env node
/** Stand-alone entry (`node dist/control/registry/main.js registry ...`), used by crash tests; `vxtun registry` is the same command. */
import { Command } from 'commander';
import { addLogOptions, runProgram } from '../log.js';
import { registerRegistryCommand } from './command.js';

const program = addLogOptions(new Command('vxtun'));
registerRegistryCommand(program);
await runProgram(program);
