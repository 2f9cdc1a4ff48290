// Builds vxtun_native.node with node-gyp (`npm ci` runs this through the root install script).
// With --if-stale (what `npm run build` passes) it does nothing when the addon is newer than every C source.
// node-gyp downloads Node's headers from nodejs.org unless told where they are; Node installs them beside itself
// (<prefix>/include/node), so when their version matches the running node we point node-gyp there and the build
// works offline. Otherwise node-gyp falls back to its download.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = resolve(process.execPath, '..', '..');

function localHeadersMatch() {
  try {
    const h = readFileSync(join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const part = (name) => h.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
    return `${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}` === process.versions.node;
  } catch {
    return false;
  }
}

// npm exports the path of its bundled node-gyp to lifecycle scripts; outside npm look beside npm itself.
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

function upToDate() {
  const addon = join(here, 'build', 'Release', 'vxtun_native.node');
  if (!existsSync(addon)) return false;
  const sources = [join(here, 'binding.gyp'), ...readdirSync(join(here, 'src')).map((f) => join(here, 'src', f))];
  const built = statSync(addon).mtimeMs;
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

if (process.argv.includes('--if-stale') && upToDate()) process.exit(0);

const gyp = nodeGyp();
const args = ['rebuild', `--directory=${here}`];
if (localHeadersMatch()) args.push(`--nodedir=${prefix}`);
const run = gyp ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' }) : spawnSync('node-gyp', args, { stdio: 'inherit' });
if (run.error) console.error(`vxtun: could not run node-gyp (${run.error.message}); install it with: npm install -g node-gyp`);
process.exit(run.status ?? 1);
