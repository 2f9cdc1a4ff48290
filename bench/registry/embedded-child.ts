/** Child process entry: runs the embedded registry on a free loopback port and prints {"url":…} on stdout. */
const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: embedded-child.js <data-dir>');
const modPath = '../../control/registry/server.js'; // resolved at run time: the registry is built beside this file
const { startRegistry } = (await import(modPath)) as {
  startRegistry(o: { listen: string; dataDir: string }): Promise<{ url: string; close(): Promise<void> | void }>;
};
const reg = await startRegistry({ listen: '127.0.0.1:0', dataDir });
process.stdout.write(`${JSON.stringify({ url: reg.url })}\n`);
process.once('SIGTERM', () => {
  void Promise.resolve(reg.close()).finally(() => process.exit(0));
});
