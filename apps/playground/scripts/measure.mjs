#!/usr/bin/env node
// Figures of the built site in headless Chromium (Debian's /usr/bin/chromium): bundle sizes, time to first render
// and in-page training speed per tfjs backend. Timing: run it alone, e.g. `flock /tmp/bench.lock node scripts/measure.mjs`.
// Usage: node scripts/measure.mjs [--loads 5] [--epochs 10] [--repeats 3]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveStatic } from './serve.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
// The launch options of vitest.chromium.ts (a .ts file Node 20 cannot import), with WebGL on SwiftShader.
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    ...['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
    ...[
      '--disable-component-update',
      '--disable-sync',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  ],
};
const site = fileURLToPath(new URL('../dist', import.meta.url));

function sizes(dir, prefix = '') {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory()
      ? sizes(path, `${prefix}${name}/`)
      : [[`${prefix}${name}`, statSync(path).size]];
  });
}
const files = sizes(site);
const total = (test) => files.filter(([name]) => test(name)).reduce((sum, [, bytes]) => sum + bytes, 0);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const { server, url } = await serveStatic({ '/': site });
const browser = await chromium.launch(launchOptions);
try {
  const firstRender = [];
  let firstViewJs = 0;
  for (let i = 0; i < flag('loads', 5); i++) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.firstRender !== undefined);
    firstRender.push(Number(await page.evaluate(() => document.body.dataset.firstRender)));
    // The JavaScript the first view fetched (module preloads and the Why view's chunks).
    firstViewJs = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((e) => e.name.endsWith('.js'))
        .reduce((sum, e) => sum + e.decodedBodySize, 0),
    );
    await page.close();
  }
  const stepsPerSecond = {};
  for (const backend of ['wasm', 'cpu', 'webgl']) {
    const rates = [];
    for (let r = 0; r < flag('repeats', 3); r++) {
      const page = await browser.newPage();
      await page.goto(`${url}#train`);
      await page.waitForSelector('#train-start');
      await page.selectOption('#train-backend-choice', backend);
      // Baseline in the same run: the CE model trains with tfjs-layers' own categoricalCrossentropy.
      await page.selectOption('#train-ce-loss', 'tfjs');
      await page.fill('#train-epochs', String(flag('epochs', 10)));
      await page.click('#train-start');
      await page.waitForFunction(
        () => ['done', 'failed'].includes(document.getElementById('view-train').dataset.state),
        null,
        {
          timeout: 600_000,
        },
      );
      const { used, rate, perRun } = await page.evaluate(() => ({
        used: document.getElementById('view-train').dataset.backend,
        rate: Number(document.getElementById('view-train').dataset.stepsPerSecond),
        perRun: Object.fromEntries(
          Array.from(document.querySelectorAll('#train-results tbody tr')).map((row) => [
            row.dataset.run,
            Number(row.dataset.stepsPerSecond),
          ]),
        ),
      }));
      await page.close();
      if (used !== backend) break;
      rates.push({ all: rate, ...perRun, 'EL/CE': perRun.EL / perRun.CE, 'CEL/CE': perRun.CEL / perRun.CE });
    }
    const pick = (key) => median(rates.map((r) => r[key]));
    stepsPerSecond[backend] = rates.length
      ? {
          median: pick('all'),
          medianPerRun: { CE_tfjs: pick('CE'), EL: pick('EL'), CEL: pick('CEL') },
          medianRatio: { 'EL/CE_tfjs': pick('EL/CE'), 'CEL/CE_tfjs': pick('CEL/CE') },
          runs: rates,
        }
      : 'not available';
  }
  const kb = (bytes) => Math.round(bytes / 1024);
  console.log(
    JSON.stringify(
      {
        bundleKiB: {
          js: kb(total((n) => n.endsWith('.js'))),
          firstViewJs: kb(firstViewJs),
          css: kb(total((n) => n.endsWith('.css'))),
          wasmTfjs: kb(total((n) => n.startsWith('wasm/tfjs/'))),
          wasmOrt: kb(total((n) => n.startsWith('wasm/ort/') && n.endsWith('.wasm'))),
          files: Object.fromEntries(files.map(([n, b]) => [n, kb(b)])),
        },
        firstRenderMs: { median: median(firstRender), runs: firstRender },
        stepsPerSecond,
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  server.close();
}
