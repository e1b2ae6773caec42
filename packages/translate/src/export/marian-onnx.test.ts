import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimental_decodeOnnxModel as decodeOnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeTinyModel } from '../../test/export-fixture.js';
import { padBatch } from '../model/decode.js';
import type { MarianModel } from '../model/marian.js';
import { nodeFolder } from '../node/node-folder.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';
import { checkGraph } from './graph-check.js';
import { EXPORT_OPSET } from './marian-onnx.js';

ort.env.wasm.numThreads = 1;

const root = mkdtempSync(join(tmpdir(), 'el-export-'));
const sources = [
  [5, 9, 12, 7, 1],
  [8, 1],
  [3, 14, 22, 6, 11, 30, 1],
];
const targets = [
  [0, 17, 4, 9, 21, 5],
  [0, 6, 13, 2, 40, 7],
  [0, 25, 19, 3, 8, 44],
];

let model: MarianModel;
const folder = join(root, 'model');
const exported = join(root, 'exported');

beforeAll(async () => {
  await initBackend('wasm');
  model = writeTinyModel(folder);
  exportModelFolder({ model: nodeFolder(folder), out: nodeFolder(exported), quantize: 'both' });
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
  return {
    encoder: await ort.InferenceSession.create(
      readFileSync(join(exported, `onnx/encoder_model${suffix}.onnx`)),
      options,
    ),
    decoder: await ort.InferenceSession.create(
      readFileSync(join(exported, `onnx/decoder_model_merged${suffix}.onnx`)),
      options,
    ),
  };
}

/** Feeds for the decoder's first call: an empty past and `use_cache_branch` false. */
function emptyPast(batch: number) {
  const { decoder_layers: layers, decoder_attention_heads: heads, d_model: d } = model.config;
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < layers; i++) {
    for (const kind of ['decoder', 'encoder'])
      for (const part of ['key', 'value']) {
        feeds[`past_key_values.${i}.${kind}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [
          batch,
          heads,
          0,
          d / heads,
        ]);
      }
  }
  return feeds;
}

function tfjsLogits(): Float32Array {
  return tf.tidy(() => {
    const encoded = model.encode(padBatch(sources, model.config.pad_token_id));
    return model.decode(padBatch(targets, model.config.pad_token_id), encoded).dataSync() as Float32Array;
  });
}

describe('exported Marian graphs', () => {
  test('the folder has the transformers.js layout', () => {
    const config = JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8'));
    expect(config.model_type).toBe('marian');
    const generation = JSON.parse(readFileSync(join(exported, 'generation_config.json'), 'utf8'));
    expect(generation).toMatchObject({ decoder_start_token_id: 0, eos_token_id: 1, bad_words_ids: [[0]] });
    expect(readFileSync(join(exported, 'tokenizer_config.json'))).toEqual(
      readFileSync(join(folder, 'tokenizer_config.json')),
    );
    const tokenizer = JSON.parse(readFileSync(join(exported, 'tokenizer.json'), 'utf8'));
    const original = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8'));
    expect(tokenizer.model.vocab).toEqual(original.model.vocab);
    expect(tokenizer.model.merges).toEqual(original.model.merges.map((m: string[]) => m.join(' ')));
    expect(tokenizer.pre_tokenizer).toEqual({ ...original.pre_tokenizer, add_prefix_space: true });
  });

  test.each(['', '_quantized'])(
    'graphs%s pass the checker and declare the transformers.js names',
    async (suffix) => {
      // onnxruntime's own load: shape inference and type checks of every node, graph optimisations off and on.
      for (const level of ['disabled', 'all'] as const) {
        const { encoder, decoder } = await sessions(suffix, level);
        await encoder.release();
        await decoder.release();
      }
      for (const file of ['encoder_model', 'decoder_model_merged']) {
        const onnx = decodeOnnxModel(readFileSync(join(exported, `onnx/${file}${suffix}.onnx`)));
        expect(onnx.opsetImports).toEqual([{ domain: '', version: EXPORT_OPSET }]);
        expect(onnx.irVersion).toBe(8);
        checkGraph(onnx.graph, new Set(), new Set());
        const ops = new Set(onnx.graph.nodes.map((n) => n.opType));
        expect(ops.has('MatMulInteger')).toBe(suffix === '_quantized');
      }
      const decoder = decodeOnnxModel(
        readFileSync(join(exported, `onnx/decoder_model_merged${suffix}.onnx`)),
      );
      expect(decoder.graph.inputs.map((i) => i.name)).toEqual([
        'encoder_attention_mask',
        'input_ids',
        'encoder_hidden_states',
        'past_key_values.0.decoder.key',
        'past_key_values.0.decoder.value',
        'past_key_values.0.encoder.key',
        'past_key_values.0.encoder.value',
        'use_cache_branch',
      ]);
      expect(decoder.graph.inputs[3].shape).toEqual(['batch_size', 2, 'past_decoder_sequence_length', 16]);
      expect(decoder.graph.outputs.map((o) => o.name)).toEqual([
        'logits',
        'present.0.decoder.key',
        'present.0.decoder.value',
        'present.0.encoder.key',
        'present.0.encoder.value',
      ]);
    },
  );

  test.each(['disabled', 'all'] as const)(
    'teacher-forced logits equal the tfjs model within 1e-4 (ORT optimisation %s), with padding in the batch',
    async (level) => {
      const { encoder, decoder } = await sessions('', level);
      const { last_hidden_state } = await encoder.run({
        input_ids: int64(sources, model.config.pad_token_id),
        attention_mask: mask(sources),
      });
      const { logits } = await decoder.run({
        input_ids: int64(targets, 0),
        encoder_hidden_states: last_hidden_state,
        encoder_attention_mask: mask(sources),
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
        ...emptyPast(sources.length),
      });
      const expected = tfjsLogits();
      expect(logits.dims).toEqual([3, 6, model.config.vocab_size]);
      const data = logits.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(data[i] - expected[i]));
      expect(worst).toBeLessThan(1e-4);
      // The logits are far from uniform: a wrong graph could not pass by accident.
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(5);
    },
    120_000,
  );

  test('step by step with the key/value cache gives the teacher-forced logits', async () => {
    const { encoder, decoder } = await sessions('', 'all');
    const { last_hidden_state } = await encoder.run({
      input_ids: int64(sources, model.config.pad_token_id),
      attention_mask: mask(sources),
    });
    const expected = tfjsLogits();
    const vocab = model.config.vocab_size;
    let past: Record<string, ort.Tensor> = emptyPast(sources.length);
    for (let t = 0; t < targets[0].length; t++) {
      const outputs = await decoder.run({
        input_ids: int64(
          targets.map((row) => [row[t]]),
          0,
        ),
        encoder_hidden_states: last_hidden_state,
        encoder_attention_mask: mask(sources),
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([t > 0 ? 1 : 0]), [1]),
        ...past,
      });
      const logits = outputs.logits.data as Float32Array;
      for (let b = 0; b < sources.length; b++) {
        for (let v = 0; v < vocab; v++) {
          const want = expected[(b * targets[0].length + t) * vocab + v];
          expect(Math.abs(logits[b * vocab + v] - want)).toBeLessThan(1e-4);
        }
      }
      past = Object.fromEntries(
        Object.entries(outputs)
          .filter(([name]) => name.startsWith('present.'))
          .map(([name, tensor]) => [name.replace('present.', 'past_key_values.'), tensor]),
      );
    }
  }, 120_000);

  test('the int8 graphs stay close to fp32 (dynamic quantization error only)', async () => {
    const { encoder, decoder } = await sessions('_quantized', 'all');
    const { last_hidden_state } = await encoder.run({
      input_ids: int64(sources, model.config.pad_token_id),
      attention_mask: mask(sources),
    });
    const { logits } = await decoder.run({
      input_ids: int64(targets, 0),
      encoder_hidden_states: last_hidden_state,
      encoder_attention_mask: mask(sources),
      use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
      ...emptyPast(sources.length),
    });
    const expected = tfjsLogits();
    const data = logits.data as Float32Array;
    let worst = 0;
    let spread = 0;
    for (let i = 0; i < expected.length; i++) {
      worst = Math.max(worst, Math.abs(data[i] - expected[i]));
      spread = Math.max(spread, Math.abs(expected[i]));
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst / spread).toBeLessThan(0.1);
  }, 120_000);
});
