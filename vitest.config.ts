import { defineConfig } from 'vitest/config';

// One `vitest run` at the root runs every package's own vitest.config.ts.
// EL_TEST_REPORT=path adds a JSON report (CI reads its counts).
const report = process.env.EL_TEST_REPORT;

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      // Browser runs in Debian's Chromium (.ci/run installs it).
      'packages/*/vitest.browser.config.ts',
      'apps/translate/vitest.browser.config.ts',
      // The playground's built site, driven by playwright-core (its globalSetup runs `vite build`).
      'apps/playground/vitest.browser.config.ts',
    ],
    ...(report ? { reporters: ['default', 'json'], outputFile: { json: report } } : {}),
  },
});
