/** Child process entry: runs the embedded registry on a free loopback port and prints {"url":…} on stdout. */
import pino from 'pino';
import { startRegistry } from '../../control/registry/server.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: embedded-child.js <data-dir>');
// Logs go to stderr: stdout carries only the URL line the parent reads.
const reg = await startRegistry({ listen: '127.0.0.1:0', dataDir, logger: pino({ level: 'warn' }, pino.destination(2)) });
process.stdout.write(`${JSON.stringify({ url: reg.url })}\n`);
process.once('SIGTERM', () => {
  void reg.close().finally(() => process.exit(0));
});
