import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encouragingLossWithGrad } from '@encouraging-loss/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { serveStatic } from '../scripts/serve.mjs';
import { referenceLosses } from './reference-scores.js';
import { makeExportedModel, REFERENCE, SOURCE } from './translation-fixture.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
// Screenshots and measured figures of this run (runs/ is git-ignored; the best screenshots are committed by hand).
const runDir = join(here, '..', '..', '..', 'runs', 'playground');
// The exported model folder of the Translate view, made at test time and served as /models/en-de/ (and the folder
// it was exported from as /models/trained/), beside the demo model the build put in dist/models/.
const fixtureDir = mkdtempSync(join(tmpdir(), 'el-playground-'));

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
const problems: string[] = [];
const measured: Record<string, unknown> = {};

async function openPage(path: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${path}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${path}: ${error.message}`));
  page.on('request', (request) => {
    // Everything must come from the site itself: no CDN, no model hub.
    if (
      !request.url().startsWith(server.url) &&
      !request.url().startsWith('data:') &&
      !request.url().startsWith('blob:')
    )
      problems.push(`request outside the site: ${request.url()}`);
  });
  await page.goto(new URL(path, server.url).href);
  return page;
}

beforeAll(async () => {
  mkdirSync(runDir, { recursive: true });
  server = await serveStatic({
    '/': site,
    '/models/en-de/': join(fixtureDir, 'models', 'en-de'),
    '/models/trained/': join(fixtureDir, 'trained'),
  });
  // WebGL on the CPU (SwiftShader), as the tfjs browser tests run it: the webgl backend exists without a GPU.
  browser = await chromium.launch(
    chromiumLaunchOptions(['--use-angle=swiftshader', '--enable-unsafe-swiftshader']),
  );
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
  writeFileSync(join(runDir, 'measured.json'), `${JSON.stringify(measured, null, 2)}\n`);
  rmSync(fixtureDir, { recursive: true, force: true });
});

/** The Why-EL table as the page shows it: p → curve → quantity → value (every bit, from data-value). */
async function readFigureTable(page: Page) {
  return page.$$eval('#why-values tbody tr', (rows) =>
    rows.map((row) => ({
      p: Number((row as HTMLElement).dataset.p),
      cells: Array.from(row.querySelectorAll('td')).map((cell) => ({
        curve: cell.dataset.curve!,
        quantity: cell.dataset.quantity as 'loss' | 'targetGradient',
        value: Number(cell.dataset.value),
      })),
    })),
  );
}

/** Core's value for one cell, called here in Node with the options each curve stands for. */
function coreValue(
  curve: string,
  quantity: 'loss' | 'targetGradient',
  p: number,
  settings: { logEnd: number; bonusWeight: number; labelSmoothing: number },
) {
  const options =
    curve === 'CE'
      ? { bonusWeight: 0, logEnd: 1, labelSmoothing: settings.labelSmoothing }
      : curve === 'EL'
        ? { bonusWeight: settings.bonusWeight, logEnd: 1, labelSmoothing: settings.labelSmoothing }
        : settings;
  const logits = { data: new Float64Array([Math.log(p) - Math.log1p(-p), 0]), shape: [1, 2] };
  const { loss, grad } = encouragingLossWithGrad(logits, { data: new Int32Array([0]), shape: [1] }, options);
  return quantity === 'loss' ? loss.data[0] : grad.data[0];
}

async function expectTableEqualsCore(
  page: Page,
  settings: { logEnd: number; bonusWeight: number; labelSmoothing: number },
) {
  const table = await readFigureTable(page);
  expect(table.length).toBeGreaterThanOrEqual(9);
  let compared = 0;
  for (const { p, cells } of table) {
    expect(cells).toHaveLength(6);
    for (const { curve, quantity, value } of cells) {
      // The same float64 math in Chromium as in Node; the engines' Math.log / Math.exp may differ in the last bit.
      const expected = coreValue(curve, quantity, p, settings);
      expect(
        Math.abs(value - expected),
        `${curve} ${quantity} at p = ${p}: ${value} vs ${expected}`,
      ).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(expected)));
      compared++;
    }
  }
  return compared;
}

describe('Why EL', () => {
  it('shows Fig. 3 with the values core computes, follows the sliders from the keyboard, and shows values on hover', async () => {
    const page = await openPage('./');
    await page.waitForSelector('#view-why[data-ready]');
    await page.waitForFunction(() => document.body.dataset.firstRender !== undefined);
    measured.firstRenderMs = Number(await page.evaluate(() => document.body.dataset.firstRender));
    expect(await page.locator('#view-why canvas').count()).toBe(2);
    expect(await expectTableEqualsCore(page, { logEnd: 0.75, bonusWeight: 1, labelSmoothing: 0 })).toBe(54);

    // Keyboard: logEnd 0.75 → 0.5 (25 steps of 0.01 down), label smoothing 0 → 0.1 (10 steps up), ρ 1 → 0.5.
    await page.focus('#why-log-end');
    for (let i = 0; i < 25; i++) await page.keyboard.press('ArrowLeft');
    await page.focus('#why-label-smoothing');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
    await page.focus('#why-bonus-weight');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');
    const settings = await page.evaluate(() => ({
      logEnd: Number((document.getElementById('why-log-end') as HTMLInputElement).value),
      bonusWeight: Number((document.getElementById('why-bonus-weight') as HTMLInputElement).value),
      labelSmoothing: Number((document.getElementById('why-label-smoothing') as HTMLInputElement).value),
    }));
    expect(settings).toEqual({ logEnd: 0.5, bonusWeight: 0.5, labelSmoothing: 0.1 });
    await expectTableEqualsCore(page, settings);

    // Hover the gradient chart: uPlot's legend shows the values under the cursor.
    const chart = page.locator('#view-why .chart').nth(1).locator('.u-over');
    const box = (await chart.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    const legend = await page
      .locator('#view-why .chart')
      .nth(1)
      .locator('.u-legend .u-value')
      .allTextContents();
    expect(legend.every((v) => Number.isFinite(Number(v)))).toBe(true);
    expect(Number(legend[0])).toBeGreaterThan(0.8);

    await page.keyboard.press('Escape');
    await page.screenshot({ path: join(runDir, 'why-el.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(runDir, 'why-el-phone.png'), fullPage: false });
    await page.close();
  });
});

async function train(page: Page, backend: string, epochs: number, crossEntropy = 'library') {
  await page.selectOption('#train-backend-choice', backend);
  await page.selectOption('#train-ce-loss', crossEntropy);
  await page.fill('#train-epochs', String(epochs));
  await page.click('#train-start');
  await page.waitForFunction(
    () => ['done', 'stopped', 'failed'].includes(document.getElementById('view-train')!.dataset.state ?? ''),
    null,
    { timeout: 150_000, polling: 250 },
  );
  return page.evaluate(() => {
    const view = document.getElementById('view-train')!;
    return {
      state: view.dataset.state,
      backend: view.dataset.backend,
      stepsPerSecond: Number(view.dataset.stepsPerSecond),
      status: document.getElementById('train-status')!.textContent,
      rows: Array.from(document.querySelectorAll<HTMLElement>('#train-results tbody tr')).map((row) => ({
        run: row.dataset.run,
        epochs: Number(row.dataset.epochs),
        accuracy: Number(row.dataset.accuracy),
        crossEntropy: Number(row.dataset.crossEntropy),
        stepsPerSecond: Number(row.dataset.stepsPerSecond),
      })),
    };
  });
}

describe('Train', () => {
  it('trains CE, EL and CEL on every backend the browser has and reports their accuracies', async () => {
    const page = await openPage('./#train');
    await page.waitForSelector('#train-start');
    const speeds: Record<string, number> = {};
    for (const backend of ['wasm', 'cpu', 'webgl']) {
      // The cpu round trains its CE model with tfjs-layers' own categoricalCrossentropy (the speed baseline).
      const result = await train(page, backend, 3, backend === 'cpu' ? 'tfjs' : 'library');
      expect(result.state, result.status ?? '').toBe('done');
      // webgl falls back to wasm where the browser has no WebGL; whatever ran is named.
      if (result.backend !== backend) {
        expect(backend).toBe('webgl');
        continue;
      }
      expect(result.rows.map((r) => r.run)).toEqual(['CE', 'EL', 'CEL']);
      for (const row of result.rows) {
        expect(row.epochs).toBe(3);
        expect(row.accuracy).toBeGreaterThanOrEqual(0);
        expect(row.accuracy).toBeLessThanOrEqual(1);
        expect(Number.isFinite(row.crossEntropy)).toBe(true);
        expect(row.stepsPerSecond).toBeGreaterThan(0);
      }
      speeds[backend] = result.stepsPerSecond;
      measured[`train-${backend}`] = result.rows;
    }
    measured.trainStepsPerSecond = speeds;
    // The decision boundaries were painted: the canvases are not blank.
    const painted = await page.$$eval('#view-train canvas[id^="train-boundary"]', (canvases) =>
      canvases.map((c) => {
        const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 240, 240).data;
        return new Set(Array.from(data.filter((_, i) => i % 4 === 0))).size;
      }),
    );
    for (const colours of painted) expect(colours).toBeGreaterThan(10);
    await page.close();
  });

  it('learns the task: 30 epochs on wasm put CE and CEL well above chance (1/3)', async () => {
    const page = await openPage('./#train');
    await page.waitForSelector('#train-start');
    const result = await train(page, 'wasm', 30);
    expect(result.state).toBe('done');
    const accuracy = Object.fromEntries(result.rows.map((r) => [r.run, r.accuracy]));
    expect(accuracy.CE).toBeGreaterThan(0.6);
    expect(accuracy.CEL).toBeGreaterThan(0.6);
    measured['train-wasm-30'] = result.rows;
    await page.locator('#view-train').screenshot({ path: join(runDir, 'train.png') });
    await page.close();
  });

  it('stops on the Stop button and keeps what was trained', async () => {
    const page = await openPage('./#train');
    await page.waitForSelector('#train-start');
    await page.selectOption('#train-backend-choice', 'cpu');
    await page.fill('#train-epochs', '500');
    await page.click('#train-start');
    await page.waitForFunction(() =>
      document.getElementById('train-status')!.textContent!.startsWith('Epoch 2 '),
    );
    // The page answers while training (it yields between batches): the click goes through.
    await page.click('#train-stop');
    await page.waitForFunction(() => document.getElementById('view-train')!.dataset.state === 'stopped');
    const epochs = await page.$$eval('#train-results tbody tr', (rows) =>
      rows.map((row) => Number((row as HTMLElement).dataset.epochs)),
    );
    expect(epochs.length).toBeGreaterThan(0);
    for (const e of epochs) expect(e).toBeLessThan(500);
    await page.close();
  });
});

describe('Translate', () => {
  let folder: string;

  beforeAll(() => {
    folder = makeExportedModel(fixtureDir);
  }, 240_000);

  it('translates with transformers.js and scores a reference with the loss values ORT gives outside the page', async () => {
    const page = await openPage('./?model=models/en-de/#translate');
    await page.waitForSelector('#translate-load');
    await page.click('#translate-load');
    await page.waitForFunction(() =>
      ['loaded', 'failed'].includes(document.getElementById('view-translate')!.dataset.state ?? ''),
    );
    expect(await page.textContent('#translate-model-status')).toMatch(/^Loaded en-de/);

    await page.fill('#translate-source', SOURCE);
    await page.click('#translate-run');
    await page.waitForFunction(
      () => document.getElementById('view-translate')!.dataset.translated === 'true',
    );
    const translation = await page.getAttribute('#translate-output', 'data-translation');

    // The same folder in Node with transformers.js: the page's greedy translation is the one it gives.
    const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${join(fixtureDir, 'models')}/`;
    const tokenizer = await AutoTokenizer.from_pretrained('en-de');
    const model = await AutoModelForSeq2SeqLM.from_pretrained('en-de', { dtype: 'fp32' });
    const output = (await model.generate({
      ...tokenizer(SOURCE),
      max_new_tokens: 40,
      num_beams: 1,
      do_sample: false,
    })) as {
      tolist(): bigint[][];
    };
    expect(translation).toBe(tokenizer.decode(output.tolist()[0], { skip_special_tokens: true }));
    expect(translation!.length).toBeGreaterThan(0);
    await model.dispose();

    // Score the reference with non-default settings, read the page's table, and recompute it in Node.
    await page.fill('#translate-reference', REFERENCE);
    await page.fill('#translate-log-end', '0.5');
    await page.fill('#translate-bonus-weight', '0.8');
    await page.fill('#translate-label-smoothing', '0.1');
    await page.click('#translate-score');
    await page.waitForFunction(() => document.getElementById('view-translate')!.dataset.scored === 'true');
    const table = await page.$$eval('#translate-losses tbody tr', (rows) =>
      rows.map((row) => ({
        target: Number((row as HTMLElement).dataset.target),
        losses: Object.fromEntries(
          Array.from(row.querySelectorAll<HTMLElement>('td[data-loss]')).map((cell) => [
            cell.dataset.loss!,
            Number(cell.dataset.value),
          ]),
        ),
      })),
    );
    const sourceIds = Array.from(tokenizer(SOURCE).input_ids.data as BigInt64Array, Number);
    const targetIds = Array.from(tokenizer(REFERENCE).input_ids.data as BigInt64Array, Number);
    expect(table.map((row) => row.target)).toEqual(targetIds);
    const smoothing = { labelSmoothing: 0.1 };
    const expected = await referenceLosses(folder, sourceIds, targetIds, {
      CE: { ...smoothing, bonusWeight: 0, logEnd: 1 },
      EL: { ...smoothing, bonusWeight: 0.8, logEnd: 1 },
      CEL: { ...smoothing, bonusWeight: 0.8, logEnd: 0.5 },
    });
    for (const name of ['CE', 'EL', 'CEL']) {
      table.forEach((row, t) => {
        // float32 logits from two runs of the same graphs on ORT's wasm kernels.
        expect(Math.abs(row.losses[name] - expected[name][t]), `${name} at token ${t}`).toBeLessThanOrEqual(
          1e-5 * Math.max(1, Math.abs(expected[name][t])),
        );
      });
    }
    measured.translate = { translation, tokens: targetIds.length, losses: expected };

    // The same folder picked from the disk (a webkitdirectory input): read from the files, the same translation.
    const picked = await openPage('./#translate');
    await picked.setInputFiles('#translate-model-folder', folder);
    await picked.waitForFunction(() => document.getElementById('view-translate')!.dataset.state === 'loaded');
    await picked.fill('#translate-source', SOURCE);
    await picked.click('#translate-run');
    await picked.waitForFunction(
      () => document.getElementById('view-translate')!.dataset.translated === 'true',
    );
    expect(await picked.getAttribute('#translate-output', 'data-translation')).toBe(translation);
    await picked.close();
    await page.locator('#view-translate').screenshot({ path: join(runDir, 'translate.png') });
    await page.close();
  });
});

describe('Translate out of the box and with a wrong URL', () => {
  async function loadModel(page: Page) {
    await page.click('#translate-load');
    await page.waitForFunction(() =>
      ['loaded', 'failed'].includes(document.getElementById('view-translate')!.dataset.state ?? ''),
    );
    return page.textContent('#translate-model-status');
  }

  it('opens on the demo model the build bundles: it loads, translates as transformers.js does, and scores', async () => {
    const page = await openPage('./#translate');
    // models/index.json (written by the build) names the default folder and says what it is. The field holds the
    // same folder before the index is read (the view's fallback): wait for the note, which only the index fills.
    await page.waitForFunction(
      () =>
        // The view mounts after the page loads: until then the field is not there.
        (document.getElementById('translate-model-url') as HTMLInputElement | null)?.value ===
          'models/opus-mt-tiny/' &&
        (document.getElementById('translate-model-note')?.textContent ?? '') !== '',
    );
    expect(await page.textContent('#translate-model-note')).toContain('random weights');
    expect(await loadModel(page)).toMatch(/^Loaded opus-mt-tiny in .* The bundled demo/);
    await page.click('#translate-run');
    await page.waitForFunction(
      () => document.getElementById('view-translate')!.dataset.translated === 'true',
    );
    const translation = await page.getAttribute('#translate-output', 'data-translation');

    const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${join(site, 'models')}/`;
    const tokenizer = await AutoTokenizer.from_pretrained('opus-mt-tiny');
    const model = await AutoModelForSeq2SeqLM.from_pretrained('opus-mt-tiny', { dtype: 'fp32' });
    const output = (await model.generate({
      ...tokenizer(await page.inputValue('#translate-source')),
      max_new_tokens: 40,
      num_beams: 1,
      do_sample: false,
    })) as { tolist(): bigint[][] };
    expect(translation).toBe(tokenizer.decode(output.tolist()[0], { skip_special_tokens: true }));
    await model.dispose();

    await page.click('#translate-score');
    await page.waitForFunction(() => document.getElementById('view-translate')!.dataset.scored === 'true');
    const targets = await page.$$eval('#translate-losses tbody tr', (rows) =>
      rows.map((row) => Number((row as HTMLElement).dataset.target)),
    );
    const reference = await page.inputValue('#translate-reference');
    expect(targets).toEqual(Array.from(tokenizer(reference).input_ids.data as BigInt64Array, Number));
    const values = await page.$$eval('#translate-losses td[data-loss]', (cells) =>
      cells.map((cell) => Number((cell as HTMLElement).dataset.value)),
    );
    expect(values).toHaveLength(3 * targets.length);
    for (const value of values) expect(Number.isFinite(value)).toBe(true);
    await page.close();
  });

  /** A page whose expected 404s (the probed files) are not counted as the run's console errors. */
  async function openExpecting404(path: string) {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 404/.test(message.text())) errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(new URL(path, server.url).href);
    await page.waitForSelector('#translate-load');
    return { page, errors };
  }

  it('says what was fetched, what a model folder holds and how to export one when the URL has no model', async () => {
    const { page, errors } = await openExpecting404('./?model=models/nothere/#translate');
    const message = (await loadModel(page))!;
    expect(await page.getAttribute('#view-translate', 'data-state')).toBe('failed');
    expect(message).toContain(`No exported model at ${server.url}models/nothere/.`);
    expect(message).toContain('config.json: 404 Not Found');
    expect(message).toContain('onnx/encoder_model.onnx: 404 Not Found');
    expect(message).toContain('tokenizer.json, tokenizer_config.json, onnx/encoder_model.onnx and');
    expect(message).toContain('pnpm el-translate export --model MODEL_DIR --out runs/web-model');
    expect(message).toContain('pnpm playground -- --model runs/web-model');
    expect(message).not.toContain('Cannot read properties');
    // The message is shown with its lines, in the error style.
    expect(await page.$eval('#translate-model-status', (e) => getComputedStyle(e).whiteSpace)).toBe(
      'pre-line',
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('tells a trained folder (config.json, no ONNX graphs) from an export', async () => {
    const { page, errors } = await openExpecting404('./?model=models/trained/#translate');
    const message = (await loadModel(page))!;
    expect(message).toContain(
      `The folder at ${server.url}models/trained/ is not a complete transformers.js export.`,
    );
    expect(message).toContain('onnx/decoder_model_merged.onnx: 404 Not Found');
    expect(message).toContain('must be exported first');
    expect(message).not.toContain('config.json: ');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('the whole run', () => {
  it('logged no console error, no page error and fetched nothing from outside the site', () => {
    expect(problems).toEqual([]);
  });
});
