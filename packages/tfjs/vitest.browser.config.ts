import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumLaunchOptions } from '../../vitest.chromium.js';

// tfjs-backend-wasm's .wasm files, served by vite from the installed package: nothing comes from a CDN.
const wasmDist = realpathSync(
  join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'),
);

export default defineConfig({
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)),
      '@encouraging-loss/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)),
    },
  },
  define: { __TFJS_WASM_PATH__: JSON.stringify(`/@fs${wasmDist}/`) },
  server: { fs: { allow: [fileURLToPath(new URL('../..', import.meta.url)), wasmDist] } },
  test: {
    name: 'tfjs (chromium)',
    include: ['src/**/*.browser.test.ts'],
    // Generous: the machines are shared; a test fails on its assertions, never on a busy CPU.
    testTimeout: 300_000,
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        // WebGL on the CPU (SwiftShader): the webgl backend runs without a GPU.
        launchOptions: chromiumLaunchOptions(['--use-angle=swiftshader', '--enable-unsafe-swiftshader']),
      }),
      instances: [{ browser: 'chromium' }],
      screenshotFailures: false,
    },
  },
});
