import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The built site (globalSetup runs `vite build`) served on 127.0.0.1 and driven in Debian's Chromium with
// playwright-core: each view's main action end to end, values checked against the libraries called from Node.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    name: 'playground-browser',
    include: ['test/**/*.browser.test.ts'],
    globalSetup: ['test/build-site.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
