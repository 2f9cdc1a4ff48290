#!/usr/bin/env node
// `npm run bench`: the same command as `vxtun bench`, without the rest of the vxtun CLI.
import { Command } from 'commander';
import { runProgram } from '../control/log.js';
import { configureBenchCommand } from './command.js';

await runProgram(configureBenchCommand(new Command('vxtun bench')));
