import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': source('../core/src/index.ts'),
      '@encouraging-loss/tfjs': source('../tfjs/src/index.ts'),
      '@encouraging-loss/onnxruntime-web/graph': source('../onnxruntime-web/src/graph.ts'),
      '@encouraging-loss/onnxruntime-web': source('../onnxruntime-web/src/index.ts'),
    },
  },
  test: {
    name: 'translate-library',
    include: ['src/**/*.test.ts'],
    exclude: ['src/**/*.browser.test.ts'],
    // tfjs-core's gradient registrations are ESM with extensionless imports: let Vite resolve them.
    server: { deps: { inline: [/@tensorflow/] } },
    // Generous: the machines are shared; a test fails on its assertions, never on a busy CPU.
    testTimeout: 120_000,
  },
});
