/**
 * The exported model against el-translate: equality counts (transformers.js 4.x and @xenova/transformers 2.17.2 in
 * Node, transformers.js 4.x in Chromium, OnnxTranslator beam 5), int8 agreement and BLEU, file sizes, and
 * sentences/s for greedy and beam 5 — tfjs-wasm (`el-translate translate`) as the baseline, every figure measured
 * in the same run. Run through `node bench/run-speed.mjs export` (`pnpm bench` in apps/translate), under
 * `flock /tmp/bench.lock`.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  corpusBleu,
  exportModelFolder,
  loadModel,
  OnnxTranslator,
  translateTexts,
} from '@encouraging-loss/translate';
import { initNodeBackend, nodeFolder, readParallelData } from '@encouraging-loss/translate/node';
import * as ort from 'onnxruntime-web';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../../../vitest.chromium.js';
import { serveStatic } from '../browser-test/serve.js';
import { type PageApi, siteMounts } from '../browser-test/site.js';

ort.env.wasm.numThreads = 1;

const { values } = parseArgs({
  options: {
    // Default: the CEL fine-tune of the last `pnpm start` (el-translate demo), and its in-domain test set.
    model: { type: 'string', default: '../../runs/demo/ft-cel' },
    data: { type: 'string', default: '../../runs/demo/data/it.test.tsv' },
    sentences: { type: 'string', default: '100' },
    out: { type: 'string', default: 'bench/export-results.json' },
  },
});
const modelDir = resolve(values.model!);
if (!existsSync(join(modelDir, 'config.json')) || !existsSync(values.data!)) {
  process.stderr.write(
    `export bench skipped: no model at ${modelDir} or no data at ${values.data} (run pnpm start first, or pass --model and --data).\n`,
  );
  process.exit(0);
}
const pairs = readParallelData(values.data!, { sourceLanguage: 'en', targetLanguage: 'de' }).pairs.slice(
  0,
  Number(values.sentences),
);
const sentences = pairs.map((p) => p.source);
const references = pairs.map((p) => p.target);
const say = (line: string) => process.stderr.write(`${line}\n`);
const seconds = async <T>(run: () => Promise<T> | T): Promise<{ value: T; seconds: number }> => {
  const started = performance.now();
  const value = await run();
  return { value, seconds: (performance.now() - started) / 1000 };
};
const same = (a: string[], b: string[]) => a.filter((t, i) => t === b[i]).length;

const root = mkdtempSync(join(tmpdir(), 'el-export-bench-'));
const exported = join(root, 'models', 'exported');
const { files } = exportModelFolder({
  model: nodeFolder(modelDir),
  out: nodeFolder(exported),
  quantize: 'both',
});
say(`exported ${modelDir} → ${exported}`);

// Baseline: el-translate translate (tfjs-wasm, one thread, batches of 64 with the KV cache).
await initNodeBackend('wasm');
const { model, tokenizer } = await loadModel(nodeFolder(modelDir));
// transformers.js decodes under the app's length rule: at most ⌈1.5 × source ids⌉ + 10 new tokens, no forced EOS
// at that cap (the app adds none). Trained models stop at EOS long before it.
const generation = sentences.map((s) => ({
  num_beams: 1,
  max_new_tokens: Math.min(
    Math.ceil(1.5 * tokenizer.encode(s).length) + 10,
    model.config.max_position_embeddings - 1,
  ),
  forced_eos_token_id: null,
}));
translateTexts(model, tokenizer, sentences.slice(0, 4), { beam: 1 }); // warm-up
const tfjsGreedy = await seconds(() => translateTexts(model, tokenizer, sentences, { beam: 1 }));
const tfjsBeam = await seconds(() => translateTexts(model, tokenizer, sentences, { beam: 5 }));
model.dispose();
say(`tfjs-wasm: greedy ${tfjsGreedy.seconds.toFixed(2)} s, beam 5 ${tfjsBeam.seconds.toFixed(2)} s`);

// OnnxTranslator on onnxruntime-web (wasm, one thread) in Node, batches of 64 as the app.
const config = JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8'));
const onnx = await OnnxTranslator.create(ort, {
  encoder: readFileSync(join(exported, 'onnx/encoder_model.onnx')),
  decoder: readFileSync(join(exported, 'onnx/decoder_model_merged.onnx')),
  config,
});
const translateOnnx = async (beam: number) => {
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i += 64) {
    const ids = sentences.slice(i, i + 64).map((s) => tokenizer.encode(s));
    for (const t of await onnx.translateIds(ids, { beam })) out.push(tokenizer.decode(t));
  }
  return out;
};
await translateOnnx(1); // warm-up
const onnxGreedy = await seconds(() => translateOnnx(1));
const onnxBeam = await seconds(() => translateOnnx(5));
await onnx.release();

// transformers.js 4.x in Node (onnxruntime-node), one sentence at a time, greedy; fp32 and q8.
const hf = await import('@huggingface/transformers');
hf.env.allowRemoteModels = false;
hf.env.localModelPath = `${dirname(exported)}/`;
const hfTranslate = async (dtype: 'fp32' | 'q8') => {
  const translator = await hf.pipeline('translation', basename(exported), { dtype });
  await translator(sentences[0], generation[0] as never);
  const run = await seconds(async () => {
    const out: string[] = [];
    for (const [i, s] of sentences.entries()) {
      const [r] = (await translator(s, generation[i] as never)) as { translation_text: string }[];
      out.push(r.translation_text);
    }
    return out;
  });
  await translator.dispose();
  return run;
};
const hfFp32 = await hfTranslate('fp32');
const hfQ8 = await hfTranslate('q8');

// @xenova/transformers 2.17.2 in Node (its onnxruntime-node 1.14), fp32.
const xenova = await import('@xenova/transformers');
xenova.env.allowRemoteModels = false;
xenova.env.localModelPath = `${dirname(exported)}/`;
const xenovaTranslator = await xenova.pipeline('translation', basename(exported), { quantized: false });
const xenovaFp32 = await seconds(async () => {
  const out: string[] = [];
  for (const [i, s] of sentences.entries()) {
    const [r] = (await xenovaTranslator(s, generation[i] as never)) as { translation_text: string }[];
    out.push(r.translation_text);
  }
  return out;
});
await xenovaTranslator.dispose();

// Chromium: the test page, from 127.0.0.1.
const server = await serveStatic(siteMounts(dirname(exported), root, process.cwd()));
const browser = await chromium.launch(chromiumLaunchOptions());
const page = await browser.newPage();
await page.goto(`${server.url}index.html`);
await page.waitForSelector('body[data-ready]');
await page.evaluate(
  ([s, g]) => (window as unknown as PageApi).translateWithTransformers('exported', s, { generation: g }),
  [sentences.slice(0, 2), generation] as const,
);
const chromeHf = await page.evaluate(
  ([s, g]) => (window as unknown as PageApi).translateWithTransformers('exported', s, { generation: g }),
  [sentences, generation] as const,
);
const chromeHfQ8 = await page.evaluate(
  ([s, g]) =>
    (window as unknown as PageApi).translateWithTransformers('exported', s, { dtype: 'q8', generation: g }),
  [sentences, generation] as const,
);
const chromeGreedy = await page.evaluate(
  (s) =>
    (window as unknown as PageApi).translateWithOnnxTranslator('exported', s, { beam: 1, batchSize: 64 }),
  sentences,
);
const chromeBeam = await page.evaluate(
  (s) =>
    (window as unknown as PageApi).translateWithOnnxTranslator('exported', s, { beam: 5, batchSize: 64 }),
  sentences,
);
await browser.close();
await new Promise((done) => server.server.close(done));

const n = sentences.length;
const rate = (s: number) => n / s;
const rows = [
  ['el-translate translate (tfjs-wasm, batch 64) — baseline', 'Node', tfjsGreedy.seconds, tfjsBeam.seconds],
  ['OnnxTranslator (onnxruntime-web wasm, batch 64)', 'Node', onnxGreedy.seconds, onnxBeam.seconds],
  ['transformers.js 4.3.2 fp32 (onnxruntime-node, 1 sentence)', 'Node', hfFp32.seconds, Number.NaN],
  ['transformers.js 4.3.2 q8 (onnxruntime-node, 1 sentence)', 'Node', hfQ8.seconds, Number.NaN],
  [
    '@xenova/transformers 2.17.2 fp32 (onnxruntime-node 1.14, 1 sentence)',
    'Node',
    xenovaFp32.seconds,
    Number.NaN,
  ],
  ['OnnxTranslator (onnxruntime-web wasm, batch 64)', 'Chromium', chromeGreedy.seconds, chromeBeam.seconds],
  ['transformers.js 4.3.2 fp32 (wasm, 1 sentence)', 'Chromium', chromeHf.seconds, Number.NaN],
  ['transformers.js 4.3.2 q8 (wasm, 1 sentence)', 'Chromium', chromeHfQ8.seconds, Number.NaN],
] as const;
const format = (s: number) =>
  Number.isNaN(s) ? '—' : `${rate(s).toFixed(1)} (${(tfjsGreedy.seconds / s).toFixed(2)}×)`;
const formatBeam = (s: number) =>
  Number.isNaN(s) ? '—' : `${rate(s).toFixed(1)} (${(tfjsBeam.seconds / s).toFixed(2)}×)`;
const table = [
  `| runtime | where | greedy sent/s (× baseline) | beam 5 sent/s (× baseline) |`,
  '| --- | --- | --- | --- |',
  ...rows.map(([name, where, g, b]) => `| ${name} | ${where} | ${format(g)} | ${formatBeam(b)} |`),
].join('\n');
const greedyReference = tfjsGreedy.value;
const equality = {
  sentences: n,
  'transformers.js 4.3.2 Node fp32 = el-translate --beam 1': same(hfFp32.value, greedyReference),
  '@xenova/transformers 2.17.2 Node fp32 = el-translate --beam 1': same(xenovaFp32.value, greedyReference),
  'transformers.js 4.3.2 Chromium fp32 = el-translate --beam 1': same(chromeHf.translations, greedyReference),
  'OnnxTranslator Node greedy = el-translate --beam 1': same(onnxGreedy.value, greedyReference),
  'OnnxTranslator Node beam 5 = el-translate --beam 5': same(onnxBeam.value, tfjsBeam.value),
  'OnnxTranslator Chromium beam 5 = el-translate --beam 5': same(chromeBeam.translations, tfjsBeam.value),
};
const bleu = (h: string[]) => corpusBleu(h, [references]).score;
const int8 = {
  'agreement q8 vs fp32, Node (sentences)': same(hfQ8.value, hfFp32.value),
  'agreement q8 vs fp32, Chromium (sentences)': same(chromeHfQ8.translations, chromeHf.translations),
  'BLEU fp32 (transformers.js, Node)': bleu(hfFp32.value),
  'BLEU q8 (transformers.js, Node)': bleu(hfQ8.value),
  'BLEU el-translate --beam 1': bleu(greedyReference),
  'BLEU el-translate --beam 5': bleu(tfjsBeam.value),
};
const results = { model: modelDir, files, equality, int8, table, speed: rows };
writeFileSync(values.out!, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(
  `${files.map((f) => `${f.path}: ${(f.bytes / 1024).toFixed(1)} KiB`).join('\n')}\n\n${JSON.stringify(equality, null, 2)}\n${JSON.stringify(int8, null, 2)}\n\n${table}\n`,
);
