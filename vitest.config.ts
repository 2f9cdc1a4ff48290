import { defineConfig } from 'vitest/config';

// Namespace and registry tests share kernel state and ports; on a 2-core machine serial files are also the fastest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bench/**/*.test.ts'],
    // `vitest bench` would otherwise also run the compiled copies under dist/.
    benchmark: { include: ['bench/**/*.bench.ts'] },
    fileParallelism: false,
    testTimeout: 120_000,
    // One retry: namespace tests capture and time real kernel traffic on a 2-core machine, and two such cases
    // (an NDP capture, an etcdctl write right after a member was killed) each failed once in a clean-clone run.
    // A retried test is reported as such in the output; one that fails twice fails the run.
    retry: 1,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
