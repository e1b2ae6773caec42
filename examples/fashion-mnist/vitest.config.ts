import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../../packages/core/src/index.ts', import.meta.url)),
      '@encouraging-loss/tfjs': fileURLToPath(new URL('../../packages/tfjs/src/index.ts', import.meta.url)),
    },
  },
  test: {
    name: 'example-fashion-mnist',
    include: ['src/**/*.test.ts'],
    // Generous: the machines are shared; a test fails on its assertions, never on a busy CPU.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // tfjs-core's gradient registrations are ESM with extensionless imports: let Vite resolve them.
    server: { deps: { inline: [/@tensorflow/] } },
  },
});
