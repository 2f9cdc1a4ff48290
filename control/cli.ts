#!/usr/bin/env node
/** The `vxtun` executable: builds the command tree (program.ts) and runs it; errors are printed with their code. */
import { runProgram } from './log.js';
import { buildProgram } from './program.js';

await runProgram(buildProgram());
