import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      // The library's source, as tsconfig paths map it (the `/node` entry before the main one: a prefix match).
      '@encouraging-loss/translate/node': fileURLToPath(
        new URL('../../packages/translate/src/node.ts', import.meta.url),
      ),
      '@encouraging-loss/translate': fileURLToPath(
        new URL('../../packages/translate/src/index.ts', import.meta.url),
      ),
      '@encouraging-loss/core': fileURLToPath(new URL('../../packages/core/src/index.ts', import.meta.url)),
      '@encouraging-loss/tfjs': fileURLToPath(new URL('../../packages/tfjs/src/index.ts', import.meta.url)),
      '@encouraging-loss/onnxruntime-web/graph': fileURLToPath(
        new URL('../../packages/onnxruntime-web/src/graph.ts', import.meta.url),
      ),
      '@encouraging-loss/onnxruntime-web': fileURLToPath(
        new URL('../../packages/onnxruntime-web/src/index.ts', import.meta.url),
      ),
    },
  },
  test: {
    name: 'translate',
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['test-setup/build-cli.ts'],
    // tfjs-core's gradient registrations are ESM with extensionless imports: let Vite resolve them.
    server: { deps: { inline: [/@tensorflow/] } },
    testTimeout: 60_000,
  },
});
