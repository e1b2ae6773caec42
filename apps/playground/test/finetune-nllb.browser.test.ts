import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../scripts/serve.mjs';
import { parseFinetuneHash } from '../src/finetune/settings.js';
import { nodeRun, toTsv } from './finetune-data.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
const fixtures = join(here, '..', '..', '..', 'packages', 'translate', 'fixtures');
// The library's tiny NLLB-200 fixture as HF lays it out (sentencepiece.bpe.model, tokenizer.json, model.safetensors).
const nllb = join(fixtures, 'nllb-200-tiny');
const marian = join(fixtures, 'opus-mt-tiny');
const dataDir = mkdtempSync(join(tmpdir(), 'el-playground-finetune-nllb-'));
/** What the worker translates before and after (src/finetune/view.ts), so the Node run validates alike. */
const SAMPLES = 8;

// The fixture's tokenizer reference sentences (English → German; its SentencePiece model was trained on them), the
// first 24: all fit the model's 64 positions.
const reference = JSON.parse(readFileSync(join(nllb, 'tokenizer-reference.json'), 'utf8')) as {
  english: string[];
  german: string[];
};
const pairs = reference.english.slice(0, 24).map((source, i) => ({ source, target: reference.german[i] }));
const trainTsv = toTsv(pairs.slice(0, 16));
const validTsv = toTsv(pairs.slice(16));
const DATA = 'train=data/train.tsv&valid=data/valid.tsv';
const LINK = `#finetune?model=nllb/&srcLang=eng_Latn&tgtLang=deu_Latn&${DATA}&loss=cel&steps=3&seed=3&autostart=1`;

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
const problems: string[] = [];

async function openPage(hash: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => problems.push(`page error on ${hash}: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !/^(data|blob):/.test(url))
      problems.push(`request outside the site: ${url}`);
  });
  await page.goto(new URL(`./${hash}`, server.url).href);
  return page;
}

/** The run's failure as the status line shows it, once the worker reports one. */
async function failure(page: Page): Promise<string> {
  await page.waitForFunction(
    () => document.getElementById('finetune-status')?.classList.contains('error') === true,
    undefined,
    {
      timeout: 30_000,
    },
  );
  return (await page.textContent('#finetune-status')) ?? '';
}

beforeAll(async () => {
  writeFileSync(join(dataDir, 'train.tsv'), trainTsv);
  writeFileSync(join(dataDir, 'valid.tsv'), validTsv);
  server = await serveStatic(
    { '/': site, '/nllb/': nllb, '/marian/': marian, '/data/': dataDir },
    { headers: CROSS_ORIGIN_ISOLATION },
  );
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Fine-tune: NLLB-200', () => {
  it('fine-tunes the NLLB-200 fixture (eng_Latn → deu_Latn) from a deep link to the valid NLL of the same run in Node; the export translates as the library', async () => {
    const page = await openPage(LINK);
    const result = page.locator('[data-testid=finetune-result]');
    await result.waitFor({ state: 'visible', timeout: 60_000 });
    const browserRun = JSON.parse((await result.textContent())!);
    expect(await page.textContent('#finetune-status')).toMatch(/^Done after 3 steps/);
    expect(await page.textContent('#finetune-model-note')).toContain('(m2m_100, eng_Latn → deu_Latn)');
    // The form shows the pair the link gave, and offers the model's codes.
    expect(await page.inputValue('#finetune-src-lang')).toBe('eng_Latn');
    expect(await page.inputValue('#finetune-tgt-lang')).toBe('deu_Latn');
    expect(await page.locator('#finetune-language-codes option[value=fra_Latn]').count()).toBe(1);

    const { settings, problems: linkProblems } = parseFinetuneHash(LINK);
    expect(linkProblems).toEqual([]);
    const nodeResult = await nodeRun(nllb, settings, { trainTsv, validTsv, samples: SAMPLES });
    expect(browserRun).toMatchObject({
      steps: 3,
      interrupted: false,
      trainPairs: 16,
      validPairs: 8,
      seed: 3,
    });
    expect(nodeResult.steps).toBe(3);
    // Training moved the model: a run that trained nothing would agree too.
    expect(browserRun.validNll).not.toBe(browserRun.validNllBefore);
    expect(Math.abs(browserRun.validNllBefore - nodeResult.validNllBefore)).toBeLessThanOrEqual(1e-5);
    expect(
      Math.abs(browserRun.validNll - nodeResult.validNll),
      `page ${browserRun.validNll} vs Node ${nodeResult.validNll}`,
    ).toBeLessThanOrEqual(1e-5);

    // Export, then translate with it in transformers.js (src_lang / tgt_lang): the greedy "after" column again.
    await page.click('#finetune-export');
    await page.waitForSelector('#view-finetune[data-exported]', { timeout: 30_000 });
    expect(await page.textContent('#finetune-export-status')).toContain('Exported (m2m_100)');
    await page.click('#finetune-export-translate');
    await page.waitForFunction(
      () =>
        document.getElementById('view-finetune')!.dataset.exportTranslated !== undefined ||
        document.getElementById('finetune-export-status')!.classList.contains('error'),
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.textContent('#finetune-export-status')).toMatch(/8 of 8 translations equal/);
    const rows = await page.$$eval('[data-testid=finetune-samples] tr', (trs) =>
      trs
        .map((tr) => ({
          source: tr.querySelector('td')?.textContent ?? '',
          after: tr.querySelector('[data-column=after]')?.textContent ?? null,
          exported: tr.querySelector('[data-column=exported]')?.textContent ?? null,
        }))
        .filter((row) => row.after !== null),
    );
    expect(rows.map((row) => row.source)).toEqual(pairs.slice(16).map((p) => p.source));
    // Non-empty translations: equal columns are not the trivial agreement of empty strings.
    expect(rows.every((row) => (row.after ?? '').length > 0)).toBe(true);
    expect(rows.map((row) => row.exported)).toEqual(rows.map((row) => row.after));
    await page.close();
  });

  it("shows the library's refusal: an unknown code naming the valid ones, a missing language, a pair for a Marian model", async () => {
    const unknown = await openPage(
      `#finetune?model=nllb/&srcLang=eng_Latn&tgtLang=deu_Latm&${DATA}&steps=1&autostart=1`,
    );
    const text = await failure(unknown);
    expect(text).toContain('The run failed (INVALID_OPTION): deu_Latm is not a language code of');
    expect(text).toContain('valid codes: ace_Arab, ace_Latn, acm_Arab,');
    expect(text).toContain('deu_Latn');
    expect(await unknown.locator('[data-testid=finetune-result]').isVisible()).toBe(false);
    expect(await unknown.isEnabled('#finetune-start')).toBe(true);
    await unknown.close();

    const missing = await openPage(`#finetune?model=nllb/&srcLang=eng_Latn&${DATA}&steps=1&autostart=1`);
    const missingText = await failure(missing);
    // The library's message, in the page's terms (the CLI's --tgt-lang is the link's tgtLang).
    expect(missingText).toMatch(/multilingual NLLB-200 model: tgtLang is required .*valid codes: ace_Arab/);
    expect(missingText).not.toContain('--tgt-lang');
    await missing.close();

    const pairForMarian = await openPage(
      `#finetune?model=marian/&srcLang=eng_Latn&${DATA}&steps=1&autostart=1`,
    );
    expect(await failure(pairForMarian)).toMatch(
      /\(INVALID_OPTION\): srcLang\/tgtLang choose the languages of an NLLB-200 or M2M100 model; .* MarianMTModel/,
    );
    await pairForMarian.close();
  });

  it('raised no page error and fetched nothing from outside the site', () => {
    expect(problems).toEqual([]);
  });
});
