import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, resolveLoraSettings } from '@encouraging-loss/translate';
import { unzipSync } from 'fflate';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../scripts/serve.mjs';
import { parseFinetuneHash } from '../src/finetune/settings.js';
import { nodeRun, toTsv } from './finetune-data.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
// The library's tiny NLLB-200 fixture (d_model 16, 2 + 2 layers): every attention projection is [16, 16].
const nllb = join(here, '..', '..', '..', 'packages', 'translate', 'fixtures', 'nllb-200-tiny');
const dataDir = mkdtempSync(join(tmpdir(), 'el-playground-finetune-lora-'));
/** What the worker translates before and after (src/finetune/view.ts). */
const SAMPLES = 8;
const RANK = 4;

const reference = JSON.parse(readFileSync(join(nllb, 'tokenizer-reference.json'), 'utf8')) as {
  english: string[];
  german: string[];
};
const pairs = reference.english.slice(0, 24).map((source, i) => ({ source, target: reference.german[i] }));
const trainTsv = toTsv(pairs.slice(0, 16));
const validTsv = toTsv(pairs.slice(16));
const DATA = 'train=data/train.tsv&valid=data/valid.tsv';
// lr 1e-2 (LoRA's usual range is far above full fine-tuning's 5e-5): three steps move B clearly off zero.
const LINK = `#finetune?model=nllb/&srcLang=eng_Latn&tgtLang=deu_Latn&${DATA}&loss=cel&steps=3&seed=3&lr=0.01&lora=${RANK}&autostart=1`;

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
const problems: string[] = [];

async function openPage(hash: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (error) => problems.push(`page error on ${hash}: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !/^(data|blob):/.test(url))
      problems.push(`request outside the site: ${url}`);
  });
  await page.goto(new URL(`./${hash}`, server.url).href);
  return page;
}

/** Clicks a download link and returns the zip's files under its one folder (`x/config.json` → `config.json`). */
async function download(
  page: Page,
  selector: string,
): Promise<{ name: string; files: Map<string, Uint8Array> }> {
  const [event] = await Promise.all([
    page.waitForEvent('download', { timeout: 30_000 }),
    page.click(selector),
  ]);
  const path = join(dataDir, event.suggestedFilename());
  await event.saveAs(path);
  const folder = event.suggestedFilename().replace(/\.zip$/, '');
  const entries = Object.entries(unzipSync(readFileSync(path))).filter(([p]) => !p.endsWith('/'));
  expect(entries.every(([p]) => p.startsWith(`${folder}/`))).toBe(true);
  return { name: folder, files: new Map(entries.map(([p, data]) => [p.slice(folder.length + 1), data])) };
}

/** A typed array's own bytes (a tensor read from a file is a view into the file's buffer). */
const bytes = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

beforeAll(async () => {
  writeFileSync(join(dataDir, 'train.tsv'), trainTsv);
  writeFileSync(join(dataDir, 'valid.tsv'), validTsv);
  server = await serveStatic(
    { '/': site, '/nllb/': nllb, '/data/': dataDir },
    { headers: CROSS_ORIGIN_ISOLATION },
  );
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Fine-tune: LoRA', () => {
  it('trains r·(in + out) adapter values per target of the NLLB-200 fixture, the base frozen; the merged export translates as the page', async () => {
    const config = JSON.parse(readFileSync(join(nllb, 'config.json'), 'utf8'));
    const base = readSafetensors(readFileSync(join(nllb, 'model.safetensors'))).tensors;
    // PEFT's targets for m2m_100, q_proj and v_proj ([d_model, d_model]): one per encoder self-attention, two
    // per decoder layer (self-attention and cross-attention), each of them with A [r, in] and B [out, r].
    const d = config.d_model as number;
    const targetCount = 2 * config.encoder_layers + 4 * config.decoder_layers;
    const expectedTrainable = targetCount * RANK * (d + d);
    let baseSize = 0;
    for (const t of base.values()) baseSize += t.data.length;

    const page = await openPage(LINK);
    const result = page.locator('[data-testid=finetune-result]');
    await result.waitFor({ state: 'visible', timeout: 60_000 });
    const browserRun = JSON.parse((await result.textContent())!);
    expect(await page.textContent('#finetune-status')).toMatch(/^Done after 3 steps/);
    expect(await page.inputValue('#finetune-lora')).toBe(String(RANK));

    // What the worker reported: the library's defaults applied (alpha, dropout, targets left out of the link).
    expect(browserRun.lora).toEqual({
      r: RANK,
      alpha: resolveLoraSettings({ r: RANK }, 'm2m_100').alpha,
      dropout: 0,
      targets: ['q_proj', 'v_proj'],
      modules: targetCount,
      trainable: expectedTrainable,
      total: baseSize + expectedTrainable,
    });
    expect(await page.textContent('[data-testid=finetune-lora]')).toBe(
      `LoRA r=${RANK} (alpha ${browserRun.lora.alpha}, dropout 0) on ${targetCount} modules (q_proj, v_proj): ` +
        `${expectedTrainable.toLocaleString('en-US')} trainable of ${(baseSize + expectedTrainable).toLocaleString('en-US')} ` +
        `parameters (${((100 * expectedTrainable) / (baseSize + expectedTrainable)).toFixed(2)} %), the base frozen`,
    );
    // The adapters trained (a run that trained nothing would pass what follows too), and as in Node.
    expect(browserRun.validNll).not.toBe(browserRun.validNllBefore);
    const { settings, problems: linkProblems } = parseFinetuneHash(LINK);
    expect(linkProblems).toEqual([]);
    const nodeResult = await nodeRun(nllb, settings, { trainTsv, validTsv, samples: SAMPLES });
    expect(nodeResult.steps).toBe(3);
    expect(
      Math.abs(browserRun.validNll - nodeResult.validNll),
      `page ${browserRun.validNll} vs Node ${nodeResult.validNll}`,
    ).toBeLessThanOrEqual(1e-5);

    // Export: the merged folder, the adapter folder and the transformers.js export.
    await page.click('#finetune-export');
    await page.waitForSelector('#view-finetune[data-exported]', { timeout: 30_000 });
    expect(await page.textContent('#finetune-export-status')).toContain('the LoRA adapters merged');
    const merged = await download(page, '#finetune-download-model');
    const adapter = await download(page, '#finetune-download-adapter');
    expect(merged.name).toBe(`nllb-cel-lora${RANK}`);
    expect(adapter.name).toBe(`nllb-cel-lora${RANK}-adapter`);
    expect([...adapter.files.keys()]).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json']),
    );
    const adapterConfig = JSON.parse(new TextDecoder().decode(adapter.files.get('adapter_config.json')));
    expect(adapterConfig).toMatchObject({
      peft_type: 'LORA',
      r: RANK,
      lora_alpha: browserRun.lora.alpha,
      target_modules: ['q_proj', 'v_proj'],
    });
    expect(adapterConfig.base_model_name_or_path).toBe(new URL('./nllb/', server.url).href);
    const lora = readSafetensors(adapter.files.get('adapter_model.safetensors')!).tensors;
    let adapterSize = 0;
    for (const t of lora.values()) adapterSize += t.data.length;
    expect(lora.size).toBe(2 * targetCount);
    expect(adapterSize).toBe(expectedTrainable);

    // The base did not move: every tensor of the merged folder that no adapter targets is the input's, bit for bit,
    // and every target is W + (alpha / r) · B A of the input's W and the downloaded adapter.
    const out = readSafetensors(merged.files.get('model.safetensors')!).tensors;
    expect([...out.keys()].sort()).toEqual([...base.keys()].sort());
    const scale = browserRun.lora.alpha / RANK;
    let targets = 0;
    let moved = 0;
    for (const [name, tensor] of out) {
      const w = base.get(name)!;
      const module = name.replace(/\.weight$/, '');
      const a = lora.get(`base_model.model.${module}.lora_A.weight`);
      const b = lora.get(`base_model.model.${module}.lora_B.weight`);
      if (!a || !b) {
        expect(Buffer.compare(bytes(tensor.data), bytes(w.data)), name).toBe(0);
        continue;
      }
      targets++;
      const [rows, cols] = w.shape;
      let worst = 0;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          let delta = 0;
          for (let k = 0; k < RANK; k++) delta += Number(b.data[i * RANK + k]) * Number(a.data[k * cols + j]);
          const expected = Number(w.data[i * cols + j]) + scale * delta;
          worst = Math.max(worst, Math.abs(Number(tensor.data[i * cols + j]) - expected));
          if (tensor.data[i * cols + j] !== w.data[i * cols + j]) moved++;
        }
      }
      expect(worst, name).toBeLessThanOrEqual(1e-6);
    }
    expect(targets).toBe(targetCount);
    // The merge changed the targets: B trained off zero.
    expect(moved).toBeGreaterThan(0);

    // transformers.js runs the merged export as the page's greedy "after" column.
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
          after: tr.querySelector('[data-column=after]')?.textContent ?? null,
          exported: tr.querySelector('[data-column=exported]')?.textContent ?? null,
        }))
        .filter((row) => row.after !== null),
    );
    expect(rows).toHaveLength(SAMPLES);
    expect(rows.every((row) => (row.after ?? '').length > 0)).toBe(true);
    expect(rows.map((row) => row.exported)).toEqual(rows.map((row) => row.after));
    await page.close();
  });

  it("reports a bad LoRA link without starting, and the library's refusal of targets the model lacks in the page's terms", async () => {
    const bad = await openPage(`#finetune?model=nllb/&${DATA}&lora=0&loraDropout=1&autostart=1`);
    await bad.waitForSelector('#view-finetune[data-ready]', { timeout: 30_000 });
    const text = (await bad.textContent('#finetune-status')) ?? '';
    expect(text).toContain('lora must be a number from 1 to 1000000, got "0".');
    expect(text).toContain('loraDropout must be a number from 0 to below 1, got "1".');
    expect(await bad.locator('[data-testid=finetune-result]').isVisible()).toBe(false);
    expect(await bad.isEnabled('#finetune-start')).toBe(true);
    await bad.close();

    const unmatched = await openPage(
      `#finetune?model=nllb/&srcLang=eng_Latn&tgtLang=deu_Latn&${DATA}&steps=1&lora=2&loraTargets=query&autostart=1`,
    );
    await unmatched.waitForFunction(
      () => document.getElementById('finetune-status')?.classList.contains('error') === true,
      undefined,
      { timeout: 30_000 },
    );
    const refusal = (await unmatched.textContent('#finetune-status')) ?? '';
    expect(refusal).toContain('The run failed (INVALID_OPTION): loraTargets query match no linear layer');
    expect(refusal).not.toContain('--lora');
    await unmatched.close();
  });

  it('raised no page error and fetched nothing from outside the site', () => {
    expect(problems).toEqual([]);
  });
});
