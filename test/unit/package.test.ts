/**
 * What `npm publish` would ship (npm pack --dry-run): the built product, the shim's sources (built on install),
 * the notes and the demo's traffic tools; no tests, benchmarks' test files, source maps or build leftovers.
 * Needs `npm run build` first (npm test's pretest does it).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the published package', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);

  it('holds the vxtun command, the benchmark it loads on demand, the shim sources, the traffic tools and the WAN relay', () => {
    for (const f of [
      'dist/control/cli.js',
      'dist/bench/command.js',
      'dataplane/native/binding.gyp',
      'dataplane/native/src/tun.c',
      'dataplane/native/build.mjs',
      'bench/testbed/traffic/tcp-sink.mjs',
      // `vxtun bench --wan` starts the WAN relay from these.
      'bench/faults/tun-relay.mjs',
      'bench/faults/impair.mjs',
    ])
      expect(files).toContain(f);
  });

  it('holds no compiled tests and no build leftovers', () => {
    const unwanted = files.filter(
      (f) =>
        f.startsWith('dist/test/') ||
        /\.(test|bench)\.js$/.test(f) ||
        f.endsWith('.map') ||
        f.startsWith('dataplane/native/build/') ||
        f.startsWith('test/') ||
        f.endsWith('.ts'),
    );
    expect(unwanted).toEqual([]);
  });
});
