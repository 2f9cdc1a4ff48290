import { defineConfig } from 'vitest/config';

// Namespace and registry tests share kernel state and ports; on a 2-core machine serial files are also the fastest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'bench/**/*.test.ts'],
    // `vitest bench` would otherwise also run the compiled copies under dist/.
    benchmark: { include: ['bench/**/*.bench.ts'] },
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
