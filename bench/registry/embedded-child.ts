/** Child process entry: runs the embedded registry on a free loopback port and prints {"url":…} on stdout. */
import { createLogger } from '../../control/log.js';
import { startRegistry } from '../../control/registry/index.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: embedded-child.js <data-dir>');
// Logs go to stderr: stdout carries only the URL line the parent reads.
const reg = await startRegistry({ listen: '127.0.0.1:0', dataDir, logger: createLogger('warn', process.stderr) });
process.stdout.write(`${JSON.stringify({ url: reg.url })}\n`);
process.once('SIGTERM', () => {
  void reg.close().finally(() => process.exit(0));
});
