// Headless Chromium loads the exported NLLB-200 and M2M100 fixtures from 127.0.0.1 and translates with transformers.js
// 4.x (greedy ids, pipeline text, int8): they must equal el-translate's own greedy decoding in Node.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModelFolder } from '@encouraging-loss/translate';
import { greedyGenerate, initNodeBackend, nodeFolder } from '@encouraging-loss/translate/node';
import { chromium } from 'playwright-core';
import { beforeAll, expect, test } from 'vitest';
import { M2M100_FIXTURES, writePerturbedM2M100 } from '../../../packages/translate/test/export-fixture.js';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { serveStatic } from './serve.js';
import { siteMounts } from './site.js';

const root = mkdtempSync(join(tmpdir(), 'el-m2m100-chromium-'));
const NAMES = ['nllb-200-tiny', 'm2m100-tiny'];
const expected: Record<
  string,
  { sentences: string[]; ids: number[][]; texts: string[]; src: string; tgt: string }
> = {};

beforeAll(async () => {
  await initNodeBackend('wasm');
  for (const name of NAMES) {
    const ref = JSON.parse(readFileSync(join(M2M100_FIXTURES, name, 'reference.json'), 'utf8'));
    const { model, tokenizer } = writePerturbedM2M100(name, join(root, 'src', name), {
      srcLang: ref.src_lang,
      tgtLang: ref.tgt_lang,
    });
    exportModelFolder({
      model: nodeFolder(join(root, 'src', name)),
      out: nodeFolder(join(root, 'models', name)),
      quantize: 'int8',
    });
    const sentences = [
      ...ref.pairs.map((p: { source: string }) => p.source),
      'The printer is broken.',
      'Where is the new keyboard?',
      'bolts, nuts and the margin of 1999',
    ];
    const ids = sentences.map(
      (s) =>
        greedyGenerate(model, [tokenizer.encodeSource(s)], {
          forcedBosTokenId: tokenizer.forcedBosTokenId,
          maxNewTokens: 12,
        })[0],
    );
    expected[name] = {
      sentences,
      ids,
      texts: ids.map((i) => tokenizer.decode(i)),
      src: ref.src_lang,
      tgt: ref.tgt_lang,
    };
    model.dispose();
  }
});

test('transformers.js 4.x in headless Chromium: greedy ids and text equal ours; q8 runs', async () => {
  const server = await serveStatic(siteMounts(join(root, 'models'), root));
  const browser = await chromium.launch(chromiumLaunchOptions());
  const page = await browser.newPage();
  const errors: string[] = [];
  const outside: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !/^(data|blob):/.test(r.url())) outside.push(r.url());
  });
  await page.goto(`${server.url}index.html`);
  await page.waitForSelector('body[data-ready]');
  for (const name of NAMES) {
    const e = expected[name];
    const args = JSON.stringify([name, e.sentences, e.src, e.tgt]);
    const result = (await page.evaluate(`(async ([name, sentences, src, tgt]) => {
      const { AutoTokenizer, AutoModelForSeq2SeqLM, pipeline } = await import('/transformers/transformers.js');
      const tokenizer = await AutoTokenizer.from_pretrained(name);
      const model = await AutoModelForSeq2SeqLM.from_pretrained(name, { dtype: 'fp32', device: 'wasm' });
      const ids = [];
      for (const s of sentences) {
        const kwargs = { src_lang: src, tgt_lang: tgt, max_new_tokens: 12, num_beams: 1, do_sample: false };
        const inputs = tokenizer._build_translation_inputs(s, { padding: true, truncation: true }, kwargs);
        const out = await model.generate({ ...inputs, ...kwargs });
        ids.push(out.tolist()[0].map(Number).slice(1));
      }
      const translator = await pipeline('translation', name, { dtype: 'fp32', device: 'wasm' });
      const texts = (await translator(sentences, { src_lang: src, tgt_lang: tgt, max_new_tokens: 12, num_beams: 1 })).map((r) => r.translation_text);
      const q8 = await pipeline('translation', name, { dtype: 'q8', device: 'wasm' });
      const q8texts = (await q8(sentences.slice(0, 2), { src_lang: src, tgt_lang: tgt, max_new_tokens: 12 })).map((r) => r.translation_text);
      return { ids, texts, q8texts };
    })(${args})`)) as { ids: number[][]; texts: string[]; q8texts: string[] };
    expect(result.ids).toEqual(e.ids);
    expect(result.texts).toEqual(e.texts);
    expect(result.q8texts).toHaveLength(2);
  }
  expect(errors).toEqual([]);
  expect(outside).toEqual([]);
  await browser.close();
  await new Promise((done) => server.server.close(done));
});
