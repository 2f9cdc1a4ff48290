#!/usr/bin/env node
/**
 * The executable a CNI runtime runs for `"type": "vxtun"`: CNI_* environment in, the network config on stdin,
 * the result or error JSON on stdout. `vxtun cni install` puts a launcher for it into a CNI bin dir.
 * Logs go to stderr (the runtime keeps them), JSON lines, level from VXTUN_LOG_LEVEL (default warn).
 */
import { pino } from 'pino';
import { createLogger } from '../log.js';
import { runPlugin } from './plugin.js';

const log = createLogger(process.env.VXTUN_LOG_LEVEL ?? 'warn', pino.destination(2)).child({ plugin: 'vxtun' });

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const result = await runPlugin(process.env, readStdin, log);
process.stdout.write(result.stdout);
process.exitCode = result.exitCode;
