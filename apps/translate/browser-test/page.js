// The test page: transformers.js 4.x (greedy, its own bundled onnxruntime-web) and the app's OnnxTranslator
// (beam search over onnxruntime-web 1.30 sessions), both reading the exported folder under /models/ and their
// wasm files from this server. Nothing is fetched from anywhere else.

import { OnnxTranslator } from '/lib/export/onnx-translator.js';
import * as ort from '/ort/ort.wasm.min.mjs';
import { AutoTokenizer, env, pipeline } from '/transformers/transformers.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = '/models/';
env.backends.onnx.wasm.wasmPaths = '/transformers-ort/';
env.backends.onnx.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1;

const pipelines = new Map();
async function translator(name, dtype) {
  const key = `${name}|${dtype}`;
  if (!pipelines.has(key)) pipelines.set(key, await pipeline('translation', name, { dtype, device: 'wasm' }));
  return pipelines.get(key);
}

/** Greedy translations with transformers.js, one sentence at a time; `generation` goes to generate(). */
window.translateWithTransformers = async (name, sentences, { dtype = 'fp32', generation = {} } = {}) => {
  const translate = await translator(name, dtype);
  await translate(sentences[0], { num_beams: 1, max_new_tokens: 2 }); // warm-up, not timed
  const out = [];
  const started = performance.now();
  for (const [i, sentence] of sentences.entries()) {
    const options = typeof generation === 'function' ? generation(i) : (generation[i] ?? generation);
    const [result] = await translate(sentence, { num_beams: 1, do_sample: false, ...options });
    out.push(result.translation_text);
  }
  return { translations: out, seconds: (performance.now() - started) / 1000 };
};

/**
 * Beam search (or greedy) with OnnxTranslator, `batchSize` sentences per search (default 1); tokenization by
 * transformers.js' tokenizer of the folder.
 */
window.translateWithOnnxTranslator = async (name, sentences, search = {}) => {
  const base = `/models/${name}`;
  const config = await (await fetch(`${base}/config.json`)).json();
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const onnx = await OnnxTranslator.create(ort, {
    encoder: `${base}/onnx/encoder_model.onnx`,
    decoder: `${base}/onnx/decoder_model_merged.onnx`,
    config,
  });
  const { batchSize = 1, ...options } = search;
  await onnx.translateIds([Array.from(tokenizer(sentences[0]).input_ids.data, Number)], options); // warm-up
  const started = performance.now();
  const out = [];
  for (let i = 0; i < sentences.length; i += batchSize) {
    const ids = sentences
      .slice(i, i + batchSize)
      .map((sentence) => Array.from(tokenizer(sentence).input_ids.data, Number));
    for (const translated of await onnx.translateIds(ids, options)) {
      out.push(translated.length ? tokenizer.decode(translated, { skip_special_tokens: true }) : '');
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await onnx.release();
  return { translations: out, seconds };
};

document.getElementById('translate').addEventListener('click', async () => {
  const name = new URLSearchParams(location.search).get('model') ?? 'exported';
  const lines = document.getElementById('source').value.split('\n').filter(Boolean);
  const { translations } = await window.translateWithTransformers(name, lines);
  document.getElementById('target').textContent = translations.join('\n');
});
document.body.dataset.ready = 'true';
