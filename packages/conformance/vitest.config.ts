import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)),
    },
  },
  test: {
    name: 'conformance',
    // The decimal (high-precision) reference and its finite differences take seconds of CPU; on a shared two-core
    // machine under a full CI run one took over vitest's 5 s default. A test fails on its assertions, never on a busy CPU.
    testTimeout: 60_000,
    include: ['src/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
  },
});
