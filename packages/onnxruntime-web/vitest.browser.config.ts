import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumLaunchOptions } from '../../vitest.chromium.js';

// onnxruntime-web's .wasm files, served by vite from the installed package: nothing comes from a CDN.
const ortDist = realpathSync(
  join(dirname(fileURLToPath(import.meta.url)), 'node_modules', 'onnxruntime-web', 'dist'),
);

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)),
      '@encouraging-loss/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)),
    },
  },
  define: { __ORT_WASM_PATHS__: JSON.stringify(`/@fs${ortDist}/`) },
  server: { fs: { allow: [fileURLToPath(new URL('../..', import.meta.url)), ortDist] } },
  // ORT's ESM bundle finds its wasm relative to itself; keep it out of vite's dependency pre-bundling.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  test: {
    name: 'onnxruntime-web (chromium)',
    include: ['src/**/*.browser.test.ts'],
    setupFiles: ['src/browser-setup.ts'],
    // Generous: the machines are shared; a test fails on its assertions, never on a busy CPU.
    testTimeout: 300_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: chromiumLaunchOptions(),
      }),
      instances: [{ browser: 'chromium' }],
      screenshotFailures: false,
    },
  },
});
