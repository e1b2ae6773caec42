import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fakeCommit,
  type HubServer,
  readFixtureFiles,
  startHubServer,
} from '../../../packages/translate/test/hub-server.js';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../scripts/serve.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
const fixture = join(here, '..', '..', '..', 'packages', 'translate', 'fixtures', 'opus-mt-tiny');
const REPO = 'Helsinki-NLP/opus-mt-tiny';
const MAIN = fakeCommit('main');
const base = readFixtureFiles(fixture);
/** What a translation model needs of the repository; the rest (other formats, test data) must not be fetched. */
const NEEDED = [
  'config.json',
  'generation_config.json',
  'source.spm',
  'target.spm',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'model.safetensors',
];

let browser: Browser;
let site$: Awaited<ReturnType<typeof serveStatic>>;
let hub: HubServer;
const problems: string[] = [];

/** The link the task describes: a Hub id, a mirror endpoint, the bundled sample pairs, two steps. */
const link = (model: string, endpoint = hub.endpoint) =>
  `./#finetune?model=${encodeURIComponent(model)}&endpoint=${encodeURIComponent(endpoint)}&loss=cel&steps=2&autostart=1`;

async function open(context: BrowserContext, path: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error on ${path}: ${error.message}`));
  await page.goto(new URL(path, site$.url).href);
  return page;
}

async function result(page: Page): Promise<Record<string, unknown>> {
  const block = page.locator('[data-testid=finetune-result]');
  await block.waitFor({ state: 'visible', timeout: 50_000 });
  return JSON.parse((await block.textContent())!);
}

async function failure(page: Page): Promise<string> {
  await page.waitForFunction(
    () => document.querySelector('#finetune-status')?.textContent?.startsWith('The run failed'),
    undefined,
    { timeout: 30_000 },
  );
  return (await page.textContent('#finetune-status'))!;
}

/** The rows of the download table: file and state (`downloaded`, `cached`). */
const downloadRows = (page: Page) =>
  page.$$eval('[data-testid=finetune-downloads] tr', (rows) =>
    rows.map((row) => [(row as HTMLElement).dataset.file, (row as HTMLElement).dataset.state]),
  );

beforeAll(async () => {
  hub = await startHubServer({
    repos: {
      [REPO]: {
        // A Hub snapshot carries more than a model needs: other formats, and here the fixture's test files.
        commits: {
          [MAIN]: { ...base, 'tf_model.h5': new Uint8Array(9), 'onnx/decoder_model.onnx': new Uint8Array(9) },
        },
        refs: { main: MAIN },
      },
    },
    // The page is cross-origin isolated (COEP require-corp) and on another port.
    crossOriginResourcePolicy: 'cross-origin',
  });
  site$ = await serveStatic({ '/': site }, { headers: CROSS_ORIGIN_ISOLATION });
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site$?.server.close(resolve));
  await hub?.close();
});

describe('Fine-tune from a Hugging Face Hub id', () => {
  it('fetches only the needed files from the endpoint, records the commit, and loads from the Cache API on reload', async () => {
    // One browser context for both loads: the Cache API is per context.
    const context = await browser.newContext();
    const first = await open(context, link(REPO));
    const run = await result(first);
    expect(await first.textContent('#finetune-status')).toMatch(/^Done after 2 steps/);
    expect(run).toMatchObject({ steps: 2, interrupted: false });
    expect(run.hub).toEqual({ repo: REPO, revision: 'main', commit: MAIN, endpoint: hub.endpoint });
    expect(await first.evaluate(() => crossOriginIsolated)).toBe(true);
    // Per-file progress: each needed file, fully downloaded (and checked) this time.
    expect(Object.fromEntries(await downloadRows(first))).toEqual(
      Object.fromEntries(NEEDED.map((file) => [file, 'downloaded'])),
    );
    const resolved = hub.requests
      .filter((request) => request.origin === 'hub' && request.path.includes('/resolve/'))
      .map((request) => decodeURIComponent(request.path.split('/').pop()!));
    expect(resolved.sort()).toEqual([...NEEDED].sort());
    expect(hub.requests.some((request) => /tf_model|onnx|test-sentences/.test(request.path))).toBe(false);
    await first.close();

    // A reload: the revision, the snapshot and every blob come from the page's cache; the server sees nothing.
    hub.reset();
    const second = await open(context, link(REPO));
    const again = await result(second);
    expect(again.hub).toEqual(run.hub);
    expect(again.validNllBefore).toBe(run.validNllBefore);
    expect(hub.requests.filter((request) => request.path.includes('/resolve/'))).toEqual([]);
    expect(hub.requests).toEqual([]);
    expect(Object.fromEntries(await downloadRows(second))).toEqual(
      Object.fromEntries(NEEDED.map((file) => [file, 'cached'])),
    );
    await second.close();
    await context.close();
  });

  it('names a repository the endpoint does not have, and one it cannot fetch while offline', async () => {
    const context = await browser.newContext();
    const missing = await open(context, link('Helsinki-NLP/opus-mt-xx-yy'));
    const status = await failure(missing);
    expect(status).toContain('(REPO_NOT_FOUND)');
    expect(status).toContain(`'Helsinki-NLP/opus-mt-xx-yy' was not found: the Hub at ${hub.endpoint}`);
    expect(await missing.locator('[data-testid=finetune-result]').isVisible()).toBe(false);
    await missing.close();

    // Nothing listens on port 9: offline as far as the page can tell, and this context's cache is empty.
    const offline = await open(context, link(REPO, 'http://127.0.0.1:9'));
    const offlineStatus = await failure(offline);
    expect(offlineStatus).toContain('(NETWORK)');
    expect(offlineStatus).toContain(`could not reach http://127.0.0.1:9 for '${REPO}'`);
    expect(offlineStatus).toContain(`'${REPO}@main' is not cached`);
    await offline.close();
    await context.close();
  });

  it('raised no page error', () => {
    expect(problems).toEqual([]);
  });
});
