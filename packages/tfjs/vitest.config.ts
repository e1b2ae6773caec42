import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)),
      '@encouraging-loss/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)),
    },
  },
  test: {
    name: 'tfjs',
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.browser.test.ts'],
    setupFiles: ['src/node-setup.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
    // Generous: the machines are shared; a test fails on its assertions, never on a busy CPU.
    testTimeout: 300_000,
  },
});
