import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exportModelFolder,
  loadModel,
  memoryFolder,
  readFolder,
  saveModel,
  translateTexts,
} from '@encouraging-loss/translate';
import { initNodeBackend, NodeFileStore } from '@encouraging-loss/translate/node';
import { unzipSync } from 'fflate';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../scripts/serve.mjs';
import { modelFiles } from '../src/finetune/model-files.js';
import { fixturePairs, toTsv } from './finetune-data.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const site = join(here, '..', 'dist');
// The library's tiny OPUS-MT fixture, as Hugging Face lays a model folder out (weights, source.spm, target.spm).
const fixture = join(here, '..', '..', '..', 'packages', 'translate', 'fixtures', 'opus-mt-tiny');
const runDir = join(here, '..', '..', '..', 'runs', 'playground');
const dataDir = mkdtempSync(join(tmpdir(), 'el-playground-finetune-export-'));
const pairs = fixturePairs(fixture, 40);
// Served as fx/: the folders are named after it and the loss.
const MODEL_NAME = 'fx-cel';
const EXPORT_NAME = 'fx-cel-onnx';
const LINK =
  '#finetune?model=fx/&train=data/train.tsv&valid=data/valid.tsv&loss=cel&logEnd=0.5&labelSmoothing=0.1' +
  '&steps=2&seed=3&autostart=1';

let browser: Browser;
let server: Awaited<ReturnType<typeof serveStatic>>;
let page: Page;
const problems: string[] = [];
const requests: string[] = [];

/** Clicks a download link and returns the zip's entries. */
async function download(selector: string): Promise<{ name: string; files: Record<string, Uint8Array> }> {
  const [event] = await Promise.all([
    page.waitForEvent('download', { timeout: 30_000 }),
    page.click(selector),
  ]);
  const path = join(dataDir, event.suggestedFilename());
  await event.saveAs(path);
  return { name: event.suggestedFilename(), files: unzipSync(readFileSync(path)) };
}

/** The zip's files under its folder (`fx-cel/config.json` → `config.json`), checking they all are in it. */
function inFolder(files: Record<string, Uint8Array>, folder: string): Map<string, Uint8Array> {
  const entries = Object.entries(files).filter(([path]) => !path.endsWith('/'));
  expect(entries.every(([path]) => path.startsWith(`${folder}/`))).toBe(true);
  return new Map(entries.map(([path, data]) => [path.slice(folder.length + 1), data]));
}

/** The before/after table's sentence rows: source, "after" and the export's translation (null without one). */
function sampleRows() {
  return page.$$eval('[data-testid=finetune-samples] tr', (trs) =>
    trs
      .map((tr) => ({
        source: tr.querySelector('td')?.textContent ?? '',
        after: tr.querySelector('[data-column=after]')?.textContent ?? null,
        exported: tr.querySelector('[data-column=exported]')?.textContent ?? null,
      }))
      .filter((row) => row.after !== null),
  );
}

beforeAll(async () => {
  writeFileSync(join(dataDir, 'train.tsv'), toTsv(pairs.slice(0, 32)));
  writeFileSync(join(dataDir, 'valid.tsv'), toTsv(pairs.slice(32)));
  server = await serveStatic(
    { '/': site, '/fx/': fixture, '/data/': dataDir },
    { headers: CROSS_ORIGIN_ISOLATION },
  );
  browser = await chromium.launch(chromiumLaunchOptions());
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('request', (request) => requests.push(request.url()));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.server.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Fine-tune: export, translate with the export, download', () => {
  it('exports the trained model and transformers.js, loading it from memory, translates the valid sentences as the library did ("after")', async () => {
    await page.goto(new URL(`./${LINK}`, server.url).href);
    const result = page.locator('[data-testid=finetune-result]');
    await result.waitFor({ state: 'visible', timeout: 60_000 });
    expect(await page.textContent('#finetune-status')).toMatch(/^Done after 2 steps/);

    await page.click('#finetune-export');
    await page.waitForSelector('#view-finetune[data-exported]', { timeout: 30_000 });
    const files = await page.$$eval('[data-testid=finetune-export-files] tr', (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')),
    );
    expect(files.filter((cells) => cells[0] === EXPORT_NAME).map((cells) => cells[1])).toContain(
      'onnx/decoder_model_merged.onnx',
    );

    await page.click('#finetune-export-translate');
    await page.waitForFunction(
      () => {
        const view = document.getElementById('view-finetune')!;
        return (
          view.dataset.exportTranslated !== undefined ||
          document.getElementById('finetune-export-status')!.classList.contains('error')
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    const status = await page.textContent('#finetune-export-status');
    expect(status).toMatch(/8 of 8 translations equal/);

    const sentences = await sampleRows();
    expect(sentences.map((row) => row.source)).toEqual(pairs.slice(32, 40).map((p) => p.source));
    const after = sentences.map((row) => row.after);
    // Translations of real length: equal columns are not the trivial agreement of empty strings.
    expect(after.every((text) => (text ?? '').length > 0)).toBe(true);
    expect(sentences.map((row) => row.exported)).toEqual(after);
    const headers = await page.$$eval('[data-testid=finetune-samples] th', (ths) =>
      ths.map((th) => th.textContent),
    );
    expect(headers).toContain('exported (transformers.js)');
    mkdirSync(runDir, { recursive: true });
    await page.locator('#view-finetune').screenshot({ path: join(runDir, 'finetune-export.png') });
  });

  it('downloads both folders as zips: the fine-tuned folder loads in Node and translates as "after", the export is what the library exports from it', async () => {
    const after = (await sampleRows()).map((row) => row.after);
    expect(after).toHaveLength(8);
    const model = await download('#finetune-download-model');
    const exported = await download('#finetune-download-export');
    expect(model.name).toBe(`${MODEL_NAME}.zip`);
    expect(exported.name).toBe(`${EXPORT_NAME}.zip`);
    const modelFilesInZip = inFolder(model.files, MODEL_NAME);
    const exportFilesInZip = inFolder(exported.files, EXPORT_NAME);

    // The names the library writes for the same steps in Node (saveModel + copyTokenizer, exportModelFolder).
    await initNodeBackend('wasm');
    const store = new NodeFileStore(fixture);
    const base = await readFolder(store, { only: await modelFiles(store) });
    const untrained = await loadModel(base);
    const saved = memoryFolder('saved');
    saveModel(untrained.model, saved);
    untrained.family.copyTokenizer(base, saved);
    untrained.model.dispose();
    const nodeExport = memoryFolder('exported');
    exportModelFolder({ model: saved, out: nodeExport });
    expect([...modelFilesInZip.keys()].sort()).toEqual(saved.list());
    expect([...exportFilesInZip.keys()].sort()).toEqual(nodeExport.list());
    expect(saved.list()).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'source.spm']));
    expect(nodeExport.list()).toEqual(
      expect.arrayContaining([
        'config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'onnx/encoder_model.onnx',
        'onnx/decoder_model_merged.onnx',
      ]),
    );
    const fixtureType = JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8')).model_type;
    const exportConfig = JSON.parse(new TextDecoder().decode(exportFilesInZip.get('config.json')));
    expect(exportConfig.model_type).toBe(fixtureType);

    // The downloaded folder is the trained model: its weights moved, and it translates as the page's "after".
    expect(
      Buffer.compare(modelFilesInZip.get('model.safetensors')!, base.read('model.safetensors')),
    ).not.toBe(0);
    const downloaded = memoryFolder(MODEL_NAME, modelFilesInZip);
    const trained = await loadModel(downloaded);
    try {
      const sources = pairs.slice(32, 40).map((p) => p.source);
      expect(translateTexts(trained.model, trained.tokenizer, sources, { beam: 1 })).toEqual(after);
    } finally {
      trained.model.dispose();
    }
    // And the downloaded export is the library's export of that folder, byte for byte.
    const again = memoryFolder('again');
    exportModelFolder({ model: downloaded, out: again });
    // (Buffer.compare: the library's writes may be Node Buffers, which toEqual tells apart from Uint8Arrays.)
    expect([...exportFilesInZip.keys()].sort()).toEqual(again.list());
    for (const path of again.list())
      expect(Buffer.compare(exportFilesInZip.get(path)!, again.read(path)), path).toBe(0);
  });

  it('loaded the export from memory: no request for it, none outside the site, no page or console error', () => {
    expect(requests.filter((url) => url.includes('__finetune-export__'))).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(server.url) && !/^(data|blob):/.test(url))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
