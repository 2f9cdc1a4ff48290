import { defineConfig } from 'vitest/config';

// Namespace and registry tests share kernel state and ports; on a 2-core machine serial files are also the fastest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bench/**/*.test.ts'],
    // `vitest bench` would otherwise also run the compiled copies under dist/.
    benchmark: { include: ['bench/**/*.bench.ts'] },
    fileParallelism: false,
    testTimeout: 120_000,
    // No retry: a retried namespace test can pass for the wrong reason (by then the state it tests has changed), so a
    // first failure fails the run. Tests that time or capture kernel traffic must hold on a loaded 2-core machine as they are.
    retry: 0,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
