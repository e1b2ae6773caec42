import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModelFolder, loadTokenizer, type SubwordTokenizer } from '@encouraging-loss/translate';
import {
  initNodeBackend,
  type MarianModel,
  nodeFolder,
  translateIds,
} from '@encouraging-loss/translate/node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURE_SENTENCES, writeTinyModel } from '../../../packages/translate/test/export-fixture.js';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { serveStatic } from './serve.js';
import { type PageApi, siteMounts } from './site.js';

// Headless Chromium loads an exported tiny model from 127.0.0.1 and translates with transformers.js 4.x (greedy)
// and with OnnxTranslator on onnxruntime-web (beam 5): both must give what el-translate gives in Node.
const root = mkdtempSync(join(tmpdir(), 'el-browser-'));
let model: MarianModel;
let tokenizer: SubwordTokenizer;
let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
let page: Page;
const outside: string[] = [];
const errors: string[] = [];

beforeAll(async () => {
  await initNodeBackend('wasm');
  model = writeTinyModel(join(root, 'model'), { seed: 8 });
  exportModelFolder({
    model: nodeFolder(join(root, 'model')),
    out: nodeFolder(join(root, 'models', 'exported')),
    quantize: 'int8',
  });
  tokenizer = await loadTokenizer(nodeFolder(join(root, 'model')));
  server = await serveStatic(siteMounts(join(root, 'models'), root));
  browser = await chromium.launch(chromiumLaunchOptions());
  page = await browser.newPage();
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url) && !/^(data|blob):/.test(request.url()))
      outside.push(request.url());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}index.html`);
  await page.waitForSelector('body[data-ready]');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => server?.server.close(done));
  model?.dispose();
});

const sources = () => FIXTURE_SENTENCES.map((s) => tokenizer.encode(s));

describe('an exported model in headless Chromium', () => {
  test('transformers.js 4.x greedy translations equal el-translate --beam 1 (fp32), and q8 runs', async () => {
    const maxLengths = sources().map((s) => Math.ceil(1.5 * s.length) + 10);
    const expected = sources().map((s, i) =>
      tokenizer.decode(translateIds(model, [s], { beam: 1, maxLength: maxLengths[i] })[0]),
    );
    // The app's length cap, without a forced EOS at it (the app adds none): a random model compares in full.
    const generation = maxLengths.map((n) => ({ max_new_tokens: n, forced_eos_token_id: null }));
    const { translations } = await page.evaluate(
      ([sentences, options]) =>
        (window as unknown as PageApi).translateWithTransformers('exported', sentences, {
          generation: options,
        }),
      [FIXTURE_SENTENCES, generation] as const,
    );
    expect(translations).toEqual(expected);
    expect(expected.every((t) => t.length > 0)).toBe(true);
    const quantized = await page.evaluate(
      ([sentences]) =>
        (window as unknown as PageApi).translateWithTransformers('exported', sentences, {
          dtype: 'q8',
          generation: { max_new_tokens: 5 },
        }),
      [FIXTURE_SENTENCES.slice(0, 2)] as const,
    );
    expect(quantized.translations).toHaveLength(2);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  }, 180_000);

  test('OnnxTranslator on onnxruntime-web gives el-translate --beam 5', async () => {
    const expected = sources().map((s) => tokenizer.decode(translateIds(model, [s], { beam: 5 })[0]));
    const { translations } = await page.evaluate(
      ([sentences]) =>
        (window as unknown as PageApi).translateWithOnnxTranslator('exported', sentences, { beam: 5 }),
      [FIXTURE_SENTENCES] as const,
    );
    expect(translations).toEqual(expected);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  }, 180_000);
});
