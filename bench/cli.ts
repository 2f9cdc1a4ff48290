#!/usr/bin/env node
// `npm run bench`: the same command as `vxtun bench`, without the rest of the vxtun CLI.
import { Command } from 'commander';
import { DESCRIPTION, configureBenchCommand } from './command.js';

await configureBenchCommand(new Command('vxtun-bench').description(DESCRIPTION)).parseAsync(process.argv);
