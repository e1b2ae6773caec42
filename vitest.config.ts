import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One `vitest run` at the root runs every package's own vitest.config.ts.
// EL_TEST_REPORT=path adds a JSON report (CI reads its counts).
const report = process.env.EL_TEST_REPORT;

const nodeProjects = [
  'packages/*/vitest.config.ts',
  'apps/*/vitest.config.ts',
  'examples/*/vitest.config.ts',
  'scripts/vitest.config.ts',
];
const browserProjects = [
  // Browser runs in Debian's Chromium (.ci/run installs it).
  'packages/*/vitest.browser.config.ts',
  'apps/translate/vitest.browser.config.ts',
  // The playground's built site, driven by playwright-core (its globalSetup runs `vite build`).
  'apps/playground/vitest.browser.config.ts',
];

// Without Chromium the browser projects cannot run. On a developer machine they are skipped, loudly; in CI
// (CI=true, as .ci/run sets it) a missing browser is an error, so nothing is skipped silently there.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromium);
if (!haveChromium) {
  const expand = (pattern: string) => {
    const [folder, star, file] = pattern.split('/');
    if (star !== '*') return existsSync(pattern) ? [pattern] : [];
    return readdirSync(folder)
      .map((name) => `${folder}/${name}/${file}`)
      .filter((path) => existsSync(path));
  };
  const skipped = browserProjects.flatMap(expand);
  const why = `no Chromium at ${chromium} (install Debian's chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true') {
    throw new Error(`CI=true requires the browser test projects, but there is ${why}: ${skipped.join(', ')}`);
  }
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! SKIPPING ${skipped.length} BROWSER TEST PROJECT(S): ${why}.\n${skipped.map((p) => `!!   - ${p}`).join('\n')}\n!! Everything else runs. CI (CI=true) runs them and fails without Chromium.\n${bar}\n`,
  );
}

export default defineConfig({
  test: {
    projects: [...nodeProjects, ...(haveChromium ? browserProjects : [])],
    ...(report ? { reporters: ['default', 'json'], outputFile: { json: report } } : {}),
  },
});
