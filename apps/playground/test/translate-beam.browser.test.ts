import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxTranslator } from '@encouraging-loss/translate';
import * as ort from 'onnxruntime-web';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { serveStatic } from '../scripts/serve.mjs';

// The Translate view's beam search (OnnxTranslator on the page's onnxruntime-web) against the same class run here in
// Node on the folder the build bundled, and its transformers.js greedy output against transformers.js in Node.
const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
const demo = join(site, 'models', 'opus-mt-tiny');
// On this demo model (random weights) beam 4 and greedy differ for the view's default sentence (checked below), so
// a page that answered greedy under the beam label would fail.
const SETTINGS = { beam: 4, lengthPenalty: 1, maxLength: 40 };

ort.env.wasm.numThreads = 1;

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
const problems: string[] = [];

async function openPage(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${path}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${path}: ${error.message}`));
  page.on('request', (request) => {
    if (!/^(data|blob):/.test(request.url()) && !request.url().startsWith(server.url))
      problems.push(`request outside the site: ${request.url()}`);
  });
  await page.goto(new URL(path, server.url).href);
  return page;
}

/** Opens the Translate view on its default folder (the bundled demo) and loads it. */
async function openDemo(): Promise<Page> {
  const page = await openPage('./#translate');
  await page.waitForFunction(
    () =>
      // The view mounts after the page loads: until then the field is not there.
      (document.getElementById('translate-model-url') as HTMLInputElement | null)?.value ===
      'models/opus-mt-tiny/',
  );
  await page.click('#translate-load');
  await page.waitForFunction(() =>
    ['loaded', 'failed'].includes(document.getElementById('view-translate')?.dataset.state ?? ''),
  );
  expect(await page.textContent('#translate-model-status')).toMatch(/^Loaded opus-mt-tiny/);
  return page;
}

async function translate(page: Page) {
  await page.click('#translate-run');
  await page.waitForFunction(() => {
    const view = document.getElementById('view-translate')!;
    return view.dataset.translated === 'true' || view.dataset.state === 'failed';
  });
  expect(await page.getAttribute('#view-translate', 'data-state')).toBe('loaded');
  const read = (selector: string, name: string) => page.getAttribute(selector, `data-${name}`);
  return {
    greedy: await read('#translate-output', 'translation'),
    beam: await read('#translate-beam-output', 'translation'),
    beamIds: JSON.parse((await read('#translate-beam-output', 'ids')) ?? 'null') as number[] | null,
    beamSettings: JSON.parse((await read('#translate-beam-output', 'settings')) ?? 'null'),
    greedyShown: await page.isVisible('#translate-output'),
    beamShown: await page.isVisible('#translate-beam-output'),
  };
}

beforeAll(async () => {
  server = await serveStatic({ '/': site });
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
});

describe('Translate: the app’s beam search beside transformers.js greedy', () => {
  it('gives OnnxTranslator’s beam output from Node, and the greedy output as before', async () => {
    const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${join(site, 'models')}/`;
    const tokenizer = await AutoTokenizer.from_pretrained('opus-mt-tiny');
    const model = await AutoModelForSeq2SeqLM.from_pretrained('opus-mt-tiny', { dtype: 'fp32' });
    const translator = await OnnxTranslator.create(ort, {
      encoder: readFileSync(join(demo, 'onnx', 'encoder_model.onnx')),
      decoder: readFileSync(join(demo, 'onnx', 'decoder_model_merged.onnx')),
      config: JSON.parse(readFileSync(join(demo, 'config.json'), 'utf8')),
    });

    // Greedy alone is still the default: the beam output and its settings are not shown, and nothing else runs.
    const page = await openDemo();
    expect(await page.inputValue('#translate-decoder')).toBe('greedy');
    const source = await page.inputValue('#translate-source');
    const before = await translate(page);
    expect(before.greedyShown).toBe(true);
    expect(before.beamShown).toBe(false);
    expect(before.beam).toBeNull();
    expect(await page.isDisabled('#translate-beam')).toBe(true);

    const inputs = tokenizer(source);
    const generated = (await model.generate({
      ...inputs,
      max_new_tokens: SETTINGS.maxLength,
      num_beams: 1,
      do_sample: false,
    })) as { tolist(): bigint[][] };
    const greedy = tokenizer.decode(generated.tolist()[0], { skip_special_tokens: true });
    expect(before.greedy).toBe(greedy);

    const sourceIds = Array.from(inputs.input_ids.data as BigInt64Array, Number);
    const [beamIds] = await translator.translateIds([sourceIds], SETTINGS);
    const [greedyIds] = await translator.translateIds([sourceIds], { ...SETTINGS, beam: 1 });
    expect(beamIds).not.toEqual(greedyIds);

    // Both, side by side, with beam 4.
    await page.selectOption('#translate-decoder', 'both');
    await page.fill('#translate-beam', String(SETTINGS.beam));
    await page.fill('#translate-length-penalty', String(SETTINGS.lengthPenalty));
    expect(Number(await page.inputValue('#translate-max-tokens'))).toBe(SETTINGS.maxLength);
    const both = await translate(page);
    expect(both.greedyShown && both.beamShown).toBe(true);
    expect(both.beamSettings).toEqual(SETTINGS);
    expect(both.beamIds).toEqual(beamIds);
    expect(both.beam).toBe(tokenizer.decode(beamIds, { skip_special_tokens: true }));
    expect(both.greedy).toBe(greedy);
    expect(both.beam).not.toBe(both.greedy);
    expect(await page.textContent('#translate-beam-field')).toContain('beam 4, length penalty 1');

    // Beam search alone, with another length penalty: the sessions made for the first beam run serve this one.
    const penalised = { ...SETTINGS, lengthPenalty: 0.6 };
    await page.selectOption('#translate-decoder', 'beam');
    await page.fill('#translate-length-penalty', String(penalised.lengthPenalty));
    const alone = await translate(page);
    expect(alone.greedyShown).toBe(false);
    expect(alone.beamShown).toBe(true);
    expect(alone.beamSettings).toEqual(penalised);
    expect(alone.beamIds).toEqual((await translator.translateIds([sourceIds], penalised))[0]);

    await page.close();
    await translator.release();
    await model.dispose();
    expect(problems).toEqual([]);
  });

  it('says what is wrong with a beam size it cannot use, and translates again once it is fixed', async () => {
    const page = await openDemo();
    await page.selectOption('#translate-decoder', 'beam');
    await page.fill('#translate-beam', '0');
    await page.click('#translate-run');
    await page.waitForFunction(() => document.getElementById('view-translate')!.dataset.state === 'failed');
    expect(await page.textContent('#translate-beam-output')).toBe(
      'The beam size must be a whole number from 1 to 64, got 0.',
    );
    await page.fill('#translate-beam', String(SETTINGS.beam));
    await page.click('#translate-run');
    await page.waitForFunction(
      () => document.getElementById('view-translate')!.dataset.translated === 'true',
    );
    expect(await page.getAttribute('#translate-beam-output', 'data-settings')).toBe(JSON.stringify(SETTINGS));
    await page.close();
    expect(problems).toEqual([]);
  });
});
