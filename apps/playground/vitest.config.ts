import { defineConfig } from 'vitest/config';

// Node unit tests of the page's pure parts (the figure's numbers, the task, the model-folder check) and of
// `pnpm playground`'s server script. The browser test of the built site is vitest.browser.config.ts.
export default defineConfig({
  test: { name: 'playground', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'] },
});
