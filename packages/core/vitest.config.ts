import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      '@encouraging-loss/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)),
    },
  },
  test: {
    name: 'core',
    include: ['src/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
  },
});
