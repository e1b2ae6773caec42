import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The exported-model page in Debian's Chromium (.ci/run installs it), driven from Node with playwright-core.
export default defineConfig({
  resolve: {
    alias: {
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
    name: 'translate-browser',
    include: ['browser-test/**/*.browser.test.ts'],
    server: { deps: { inline: [/@tensorflow/] } },
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
