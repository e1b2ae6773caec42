import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimental_decodeOnnxModel as decodeOnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writePerturbedM2M100 } from '../../test/export-fixture.js';
import { padBatch } from '../model/decode.js';
import type { M2M100Model } from '../models/m2m100/modeling.js';
import { nodeFolder } from '../node/node-folder.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';
import { checkGraph } from './graph-check.js';
import { EXPORT_OPSET } from './seq2seq-onnx.js';

ort.env.wasm.numThreads = 1;

const root = mkdtempSync(join(tmpdir(), 'el-m2m100-export-'));
const PAD = 1;
// Sources of different lengths (padding in the batch, so positions of padded rows are tested), each
// `[lang] pieces </s>`; decoder inputs `</s> [lang] …` with a padded tail in the last row (the zero position row).
const sources = [
  [447, 34, 47, 77, 332, 180, 2],
  [447, 26, 2],
  [447, 65, 220, 14, 90, 31, 120, 55, 2],
];
const targets = [
  [2, 442, 188, 63, 177, 297],
  [2, 442, 17, 12, 2, PAD],
  [2, 442, 250, 9, PAD, PAD],
];

let model: M2M100Model;
const exported = join(root, 'exported');

beforeAll(async () => {
  await initBackend('wasm');
  const folder = join(root, 'model');
  model = writePerturbedM2M100('nllb-200-tiny', folder, { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' }).model;
  exportModelFolder({ model: nodeFolder(folder), out: nodeFolder(exported), quantize: 'int8' });
}, 120_000);

afterAll(() => model?.dispose());

const int64 = (rows: number[][], pad: number) => {
  const length = Math.max(...rows.map((r) => r.length));
  const data = new BigInt64Array(rows.length * length).fill(BigInt(pad));
  rows.forEach((r, i) => {
    r.forEach((v, j) => {
      data[i * length + j] = BigInt(v);
    });
  });
  return new ort.Tensor('int64', data, [rows.length, length]);
};
const mask = (rows: number[][]) =>
  int64(
    rows.map((r) => r.map(() => 1)),
    0,
  );

async function sessions(suffix: string, level: 'disabled' | 'all') {
  const options = { executionProviders: ['wasm'], graphOptimizationLevel: level };
  const load = (file: string) =>
    ort.InferenceSession.create(readFileSync(join(exported, `onnx/${file}${suffix}.onnx`)), options);
  return { encoder: await load('encoder_model'), decoder: await load('decoder_model_merged') };
}

function emptyPast(batch: number) {
  const { decoder_layers: layers, decoder_attention_heads: heads, d_model: d } = model.config;
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < layers; i++)
    for (const kind of ['decoder', 'encoder'])
      for (const part of ['key', 'value'])
        feeds[`past_key_values.${i}.${kind}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [
          batch,
          heads,
          0,
          d / heads,
        ]);
  return feeds;
}

function tfjsLogits(): Float32Array {
  return tf.tidy(() => {
    const encoded = model.encode(padBatch(sources, PAD));
    return model.decode(padBatch(targets, PAD), encoded).dataSync() as Float32Array;
  });
}

async function teacherForced(suffix: string, level: 'disabled' | 'all'): Promise<Float32Array> {
  const { encoder, decoder } = await sessions(suffix, level);
  const { last_hidden_state } = await encoder.run({
    input_ids: int64(sources, PAD),
    attention_mask: mask(sources),
  });
  const { logits } = await decoder.run({
    input_ids: int64(targets, PAD),
    encoder_hidden_states: last_hidden_state,
    encoder_attention_mask: mask(sources),
    use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
    ...emptyPast(sources.length),
  });
  expect(logits.dims).toEqual([3, 6, model.config.vocab_size]);
  return logits.data as Float32Array;
}

const worstDifference = (a: Float32Array, b: Float32Array) =>
  a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i])), 0);

describe('exported NLLB-200 / M2M100 graphs', () => {
  test('the folder has the transformers.js layout', () => {
    const config = JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'm2m_100', is_encoder_decoder: true, use_cache: true });
    const generation = JSON.parse(readFileSync(join(exported, 'generation_config.json'), 'utf8'));
    expect(generation).toMatchObject({ decoder_start_token_id: 2, eos_token_id: 2, pad_token_id: 1 });
    expect(generation.forced_bos_token_id).toBeUndefined();
    const tokenizerConfig = JSON.parse(readFileSync(join(exported, 'tokenizer_config.json'), 'utf8'));
    expect(tokenizerConfig.tokenizer_class).toBe('NllbTokenizer');
  });

  test.each(['', '_quantized'])('graphs%s pass the checker, no final_logits_bias', async (suffix) => {
    for (const level of ['disabled', 'all'] as const) {
      const { encoder, decoder } = await sessions(suffix, level);
      expect(encoder.outputNames).toEqual(['last_hidden_state']);
      expect(decoder.inputNames.at(-1)).toBe('use_cache_branch');
      await encoder.release();
      await decoder.release();
    }
    for (const file of ['encoder_model', 'decoder_model_merged']) {
      const onnx = decodeOnnxModel(readFileSync(join(exported, `onnx/${file}${suffix}.onnx`)));
      expect(onnx.opsetImports).toEqual([{ domain: '', version: EXPORT_OPSET }]);
      checkGraph(onnx.graph, new Set(), new Set());
      const names = (onnx.graph.initializers ?? []).map((t) => t.name);
      expect(names).not.toContain('final_logits_bias');
      expect(names.some((n) => n.endsWith('layer_norm.weight') && !n.includes('layers.'))).toBe(true);
      expect(onnx.graph.nodes.some((n) => n.opType === 'MatMulInteger')).toBe(suffix === '_quantized');
    }
  });

  test.each(['disabled', 'all'] as const)(
    'teacher-forced logits equal the tfjs model within 1e-4 (ORT optimisation %s), padding in both batches',
    async (level) => {
      const expected = tfjsLogits();
      expect(worstDifference(await teacherForced('', level), expected)).toBeLessThan(1e-4);
      // The logits are far from uniform (a spread of 1, 10⁴ times the tolerance; the tied embedding is small so
      // that greedy does not echo its input): a wrong graph could not pass by accident.
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1);
    },
    120_000,
  );

  test('step by step with the key/value cache gives the teacher-forced logits', async () => {
    const { encoder, decoder } = await sessions('', 'all');
    const { last_hidden_state } = await encoder.run({
      input_ids: int64(sources, PAD),
      attention_mask: mask(sources),
    });
    const expected = tfjsLogits();
    const vocab = model.config.vocab_size;
    const steps = targets[0].length;
    let past: Record<string, ort.Tensor> = emptyPast(sources.length);
    let worst = 0;
    for (let t = 0; t < steps; t++) {
      const outputs = await decoder.run({
        input_ids: int64(
          targets.map((row) => [row[t]]),
          PAD,
        ),
        encoder_hidden_states: last_hidden_state,
        encoder_attention_mask: mask(sources),
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([t > 0 ? 1 : 0]), [1]),
        ...past,
      });
      const logits = outputs.logits.data as Float32Array;
      for (let b = 0; b < sources.length; b++)
        for (let v = 0; v < vocab; v++)
          worst = Math.max(worst, Math.abs(logits[b * vocab + v] - expected[(b * steps + t) * vocab + v]));
      past = Object.fromEntries(
        Object.entries(outputs)
          .filter(([name]) => name.startsWith('present.'))
          .map(([name, tensor]) => [name.replace('present.', 'past_key_values.'), tensor]),
      );
    }
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);

  test('the int8 graphs stay close to fp32 (dynamic quantization error only)', async () => {
    const expected = tfjsLogits();
    const worst = worstDifference(await teacherForced('_quantized', 'all'), expected);
    const spread = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(worst).toBeGreaterThan(0);
    expect(worst / spread).toBeLessThan(0.1);
  }, 120_000);
});
