import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../scripts/serve.mjs';
import { parseFinetuneHash } from '../src/finetune/settings.js';
import { fixturePairs, nodeRun, toTsv } from './finetune-data.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
const runDir = join(here, '..', '..', '..', 'runs', 'playground');
// The library's tiny OPUS-MT fixture, as Hugging Face lays a model folder out (weights, source.spm, target.spm).
const fixture = join(here, '..', '..', '..', 'packages', 'translate', 'fixtures', 'opus-mt-tiny');
const dataDir = mkdtempSync(join(tmpdir(), 'el-playground-finetune-'));
/** What the worker translates before and after (src/finetune/view.ts), so the Node run validates alike. */
const SAMPLES = 8;

const pairs = fixturePairs(fixture, 40);
const trainTsv = toTsv(pairs.slice(0, 32));
const validTsv = toTsv(pairs.slice(32));
const LINK =
  '#finetune?model=fx/&train=data/train.tsv&valid=data/valid.tsv&loss=cel&logEnd=0.5&labelSmoothing=0.1' +
  '&steps=4&seed=3&autostart=1';

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
const problems: string[] = [];

async function openPage(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => problems.push(`page error on ${path}: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !url.startsWith('data:') && !url.startsWith('blob:'))
      problems.push(`request outside the site: ${url}`);
  });
  await page.goto(new URL(path, server.url).href);
  return page;
}

/**
 * The run the link asks for with the CLI: `el-translate train --init` (no --valid, so the folder holds the last
 * step's model, as the page reports) and then `el-translate score` on the valid set.
 */
function cliRun(): { validNll: number } {
  const cli = join(here, '..', '..', 'translate', 'dist', 'cli.js');
  const out = join(dataDir, 'cli-run');
  const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  run([
    'train',
    '--init',
    fixture,
    '--train',
    join(dataDir, 'train.tsv'),
    '--src',
    'en',
    '--tgt',
    'de',
    '--out',
    out,
    '--loss',
    'cel',
    '--log-end',
    '0.5',
    '--label-smoothing',
    '0.1',
    '--max-steps',
    '4',
    '--seed',
    '3',
    '--threads',
    '1',
    '--quiet',
  ]);
  const scored = JSON.parse(
    run([
      'score',
      '--model',
      out,
      '--data',
      join(dataDir, 'valid.tsv'),
      '--src',
      'en',
      '--tgt',
      'de',
      '--json',
      '--quiet',
    ]),
  );
  return { validNll: scored.corpus.nll };
}

beforeAll(async () => {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(dataDir, 'train.tsv'), trainTsv);
  writeFileSync(join(dataDir, 'valid.tsv'), validTsv);
  // As `pnpm playground` serves it: cross-origin isolated, so the worker gets wasm threads.
  server = await serveStatic(
    { '/': site, '/fx/': fixture, '/data/': dataDir },
    { headers: CROSS_ORIGIN_ISOLATION },
  );
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Fine-tune', () => {
  it('fine-tunes the OPUS-MT fixture from a deep link in a worker, to the valid NLL the same run gives in Node (the library, and el-translate train + score)', async () => {
    const page = await openPage(`./${LINK}`);
    const result = page.locator('[data-testid=finetune-result]');
    await result.waitFor({ state: 'visible', timeout: 150_000 });
    const browserRun = JSON.parse((await result.textContent())!);
    const status = await page.textContent('#finetune-status');
    expect(status).toMatch(/^Done after 4 steps/);

    // Cross-origin isolated, so the worker ran XNNPACK and the app kernels' pool on every core the browser reports
    // (tfjs alone would have started half of them).
    const isolation = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
    }));
    expect(isolation.isolated).toBe(true);
    expect(isolation.cores).toBeGreaterThan(1);
    expect(browserRun.threads).toBe(isolation.cores);
    expect(browserRun.kernelThreads).toBe(isolation.cores);
    expect(browserRun.backend).toBe('wasm');
    expect(await page.textContent('[data-testid=finetune-threads]')).toContain('Cross-origin isolated');

    const { settings, problems: linkProblems } = parseFinetuneHash(LINK);
    expect(linkProblems).toEqual([]);
    const nodeResult = await nodeRun(fixture, settings, { trainTsv, validTsv, samples: SAMPLES });
    expect(browserRun).toMatchObject({
      steps: 4,
      interrupted: false,
      trainPairs: 32,
      validPairs: 8,
      seed: 3,
    });
    expect(browserRun.loss).toEqual({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
    expect(nodeResult.steps).toBe(4);
    // Training moved the model: the valid NLL changed from before (a run that trained nothing would also agree).
    expect(browserRun.validNll).not.toBe(browserRun.validNllBefore);
    expect(Math.abs(browserRun.validNllBefore - nodeResult.validNllBefore)).toBeLessThanOrEqual(1e-5);
    expect(
      Math.abs(browserRun.validNll - nodeResult.validNll),
      `page ${browserRun.validNll} vs Node ${nodeResult.validNll}`,
    ).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(browserRun.trainNll - nodeResult.trainNll)).toBeLessThanOrEqual(1e-5);
    // And as a user of the CLI gets it: el-translate train, then el-translate score.
    const cli = cliRun();
    expect(
      Math.abs(browserRun.validNll - cli.validNll),
      `page ${browserRun.validNll} vs el-translate ${cli.validNll}`,
    ).toBeLessThanOrEqual(1e-5);

    // The before/after table: the first 8 valid sentences, translated both times.
    const rows = await page.$$eval('[data-testid=finetune-samples] tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')),
    );
    const sentences = rows.filter((cells) => cells.length === 4 && pairs.some((p) => p.source === cells[0]));
    expect(sentences.map((cells) => cells[0])).toEqual(pairs.slice(32, 40).map((p) => p.source));
    // The chart got the curve: uPlot drew its canvas and the valid NLL at step 0 and after the last step.
    expect(await page.locator('#view-finetune canvas').count()).toBeGreaterThan(0);

    writeFileSync(
      join(runDir, 'finetune.json'),
      `${JSON.stringify({ browser: browserRun, node: nodeResult }, null, 2)}\n`,
    );
    console.log(
      `finetune: page ${browserRun.tokensPerSecond.toFixed(0)} tokens/s on ${browserRun.threads} threads, ` +
        `Node ${nodeResult.tokensPerSecond.toFixed(0)} tokens/s; valid NLL page ${browserRun.validNll} Node ${nodeResult.validNll}`,
    );
    await page.locator('#view-finetune').screenshot({ path: join(runDir, 'finetune-fixture.png') });
    await page.close();
  });

  it('stops on Stop: the worker aborts the run after the current step and reports it interrupted', async () => {
    const page = await openPage(`./${LINK.replace('steps=4', 'steps=100000')}`);
    await page.waitForFunction(
      () => /^step [1-9]/.test(document.querySelector('[data-testid=finetune-figures]')?.textContent ?? ''),
      undefined,
      { timeout: 60_000 },
    );
    await page.locator('#view-finetune').screenshot({ path: join(runDir, 'finetune-fixture-running.png') });
    await page.click('#finetune-stop');
    const result = page.locator('[data-testid=finetune-result]');
    await result.waitFor({ state: 'visible', timeout: 60_000 });
    const run = JSON.parse((await result.textContent())!);
    expect(run.interrupted).toBe(true);
    expect(run.steps).toBeGreaterThanOrEqual(1);
    expect(run.steps).toBeLessThan(100_000);
    expect(await page.textContent('#finetune-status')).toMatch(/^Stopped after/);
    // Start is usable again.
    expect(await page.isEnabled('#finetune-start')).toBe(true);
    await page.close();
  });

  it('keeps the other views working under COOP/COEP: Why EL draws, Translate loads the bundled model and translates', async () => {
    const why = await openPage('./#why');
    await why.waitForSelector('#view-why[data-ready]');
    expect(await why.locator('#view-why canvas').count()).toBe(2);
    await why.close();
    const translate = await openPage('./#translate');
    await translate.waitForFunction(
      () =>
        (document.getElementById('translate-model-url') as HTMLInputElement | null)?.value ===
        'models/opus-mt-tiny/',
    );
    await translate.click('#translate-load');
    await translate.waitForFunction(() =>
      ['loaded', 'failed'].includes(document.getElementById('view-translate')!.dataset.state ?? ''),
    );
    expect(await translate.getAttribute('#view-translate', 'data-state')).toBe('loaded');
    await translate.click('#translate-run');
    await translate.waitForFunction(
      () => document.getElementById('view-translate')!.dataset.translated === 'true',
    );
    await translate.close();
  });

  it('reports bad deep-link settings and does not autostart', async () => {
    const page = await openPage('./#finetune?steps=0&loss=focal&autostart=1');
    await page.waitForSelector('#view-finetune[data-ready]');
    const status = await page.textContent('#finetune-status');
    expect(status).toContain('steps must be a number from 1');
    expect(status).toContain('loss must be one of ce, ls, el, cel, got "focal".');
    expect(await page.isEnabled('#finetune-start')).toBe(true);
    expect(await page.locator('[data-testid=finetune-result]').isVisible()).toBe(false);
    await page.close();
  });

  it('raised no page error and fetched nothing from outside the site', () => {
    expect(problems).toEqual([]);
  });
});
