import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadWeights, readModelConfig } from '../checkpoint/model-folder.js';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { linearProduct } from '../model/matmul.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { nodeFolder } from '../node/node-folder.js';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import {
  attachLora,
  frozenLinearProduct,
  isTargetModule,
  type LoraAdapters,
  resolveLoraSettings,
  withMergedWeights,
} from './lora.js';

/*
 * LoRA as PEFT computes it, on both families: B = 0 leaves the model as it was, the unmerged forward equals the
 * merged model's (W + (alpha/r)·B·A), A is PEFT's kaiming-uniform(a = √5) draw, and the target modules are the
 * ones PEFT's suffix match picks.
 */

const NLLB = fileURLToPath(new URL('../../fixtures/nllb-200-tiny', import.meta.url));
const models: Seq2SeqModel[] = [];

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const m of models) m.dispose();
});

function marian(seed = 3): MarianModel {
  const model = new MarianModel({ ...makeConfig(50, 'tiny'), init_std: 0.3 }, new Rng(seed));
  models.push(model);
  return model;
}

function nllb(): Seq2SeqModel {
  const { family, config } = readModelConfig(nodeFolder(NLLB));
  const model = family.create(config, new Rng(1));
  loadWeights(model, nodeFolder(NLLB));
  models.push(model);
  return model;
}

/** Teacher-forced log-probabilities `[B·T·V]` of a fixed batch (no dropout). */
function logProbs(model: Seq2SeqModel): Float32Array {
  const { config } = model;
  const rng = new Rng(11);
  const ids = (n: number) =>
    Array.from({ length: n }, () => 4 + rng.int(Math.min(40, config.vocab_size - 5)));
  return tf.tidy(() => {
    const source = tf.tensor2d(
      [
        [...ids(5), config.eos_token_id],
        [...ids(3), config.eos_token_id, config.pad_token_id, config.pad_token_id],
      ],
      undefined,
      'int32',
    );
    const decoder = tf.tensor2d(
      [
        [config.decoder_start_token_id, ...ids(4)],
        [config.decoder_start_token_id, ...ids(4)],
      ],
      undefined,
      'int32',
    );
    return tf.logSoftmax(model.decode(decoder, model.encode(source))).dataSync() as Float32Array;
  });
}

/** Gives every B random values, so that the adapters change the model. */
function randomizeB(lora: LoraAdapters, seed: number): void {
  for (const [name, v] of lora.params) {
    if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
  }
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe.each([
  ['marian', marian],
  ['m2m_100 (nllb-200-tiny)', nllb],
] as const)('%s', (type, make) => {
  const modelType = type.startsWith('marian') ? 'marian' : 'm2m_100';

  test('B = 0 at init: outputs are the base model’s exactly', () => {
    const model = make();
    const before = logProbs(model);
    attachLora(model, resolveLoraSettings({ r: 4 }, modelType), new Rng(7));
    expect(logProbs(model)).toEqual(before);
  });

  test('the unmerged LoRA forward equals the merged model’s (W + (alpha/r)·B·A) within 1e-5', () => {
    const model = make();
    const base = logProbs(model);
    const lora = attachLora(model, resolveLoraSettings({ r: 4, alpha: 16 }, modelType), new Rng(8));
    randomizeB(lora, 100);
    const unmerged = logProbs(model);
    // The adapters do change the model, by more than the tolerance below.
    expect(maxDifference(unmerged, base)).toBeGreaterThan(1e-2);
    const merged = withMergedWeights(model, () => {
      expect(model.lora).toBeUndefined();
      return logProbs(model);
    });
    expect(maxDifference(unmerged, merged)).toBeLessThan(1e-5);
    // The base weights are back bit for bit, the adapters re-attached.
    expect(model.lora).toBe(lora);
    for (const v of lora.params.values()) v.assign(tf.zerosLike(v));
    expect(logProbs(model)).toEqual(base);
  });
});

test('adapters go on q_proj and v_proj of every attention (PEFT default for marian / m2m_100), with PEFT shapes', () => {
  const model = marian();
  const settings = resolveLoraSettings({ r: 3 }, 'marian');
  expect(settings).toEqual({ r: 3, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] });
  const lora = attachLora(model, settings, new Rng(1));
  // 1 encoder layer (self_attn) + 1 decoder layer (self_attn, encoder_attn), q and v each.
  expect(lora.modules).toEqual([
    'model.encoder.layers.0.self_attn.q_proj',
    'model.encoder.layers.0.self_attn.v_proj',
    'model.decoder.layers.0.self_attn.q_proj',
    'model.decoder.layers.0.self_attn.v_proj',
    'model.decoder.layers.0.encoder_attn.q_proj',
    'model.decoder.layers.0.encoder_attn.v_proj',
  ]);
  const d = model.config.d_model;
  expect(lora.params.get('model.encoder.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([3, d]);
  expect(lora.params.get('model.encoder.layers.0.self_attn.q_proj.lora_B.weight')!.shape).toEqual([d, 3]);
  expect(lora.scale).toBe(8 / 3);
  expect(lora.size).toBe(6 * 2 * 3 * d);
  const fc = attachLora(
    model,
    resolveLoraSettings({ r: 2, targets: ['fc1', 'encoder_attn.k_proj'] }, 'marian'),
    new Rng(1),
  );
  expect(fc.modules).toEqual([
    'model.encoder.layers.0.fc1',
    'model.decoder.layers.0.encoder_attn.k_proj',
    'model.decoder.layers.0.fc1',
  ]);
  expect(fc.params.get('model.encoder.layers.0.fc1.lora_A.weight')!.shape).toEqual([2, d]);
  expect(fc.params.get('model.encoder.layers.0.fc1.lora_B.weight')!.shape).toEqual([
    model.config.encoder_ffn_dim,
    2,
  ]);
});

test('A is kaiming-uniform(a = √5): U(−1/√in, 1/√in), seeded; B is zero', () => {
  const model = marian();
  const settings = resolveLoraSettings({ r: 16, targets: ['fc2'] }, 'marian');
  const a = () =>
    attachLora(model, settings, new Rng(5)).params.get('model.encoder.layers.0.fc2.lora_A.weight')!;
  const first = a().dataSync() as Float32Array;
  const inDim = model.config.encoder_ffn_dim; // fc2: [d, ffn], so fan_in = ffn
  const bound = 1 / Math.sqrt(inDim);
  expect(first.length).toBe(16 * inDim);
  let max = 0;
  let sumSquares = 0;
  for (const x of first) {
    max = Math.max(max, Math.abs(x));
    sumSquares += x * x;
  }
  expect(max).toBeLessThanOrEqual(bound);
  expect(max).toBeGreaterThan(0.95 * bound);
  // Var U(−b, b) = b²/3.
  expect(sumSquares / first.length).toBeCloseTo(bound ** 2 / 3, 3);
  expect(a().dataSync()).toEqual(first);
  const other = attachLora(model, settings, new Rng(6)).params.get(
    'model.encoder.layers.0.fc2.lora_A.weight',
  )!;
  expect(other.dataSync()).not.toEqual(first);
  for (const [name, v] of model.lora!.params) {
    if (name.includes('lora_B')) expect(Math.max(...(v.dataSync() as Float32Array).map(Math.abs))).toBe(0);
  }
});

test('lora_dropout acts on the adapters’ input in training only', () => {
  const model = marian();
  const lora = attachLora(model, resolveLoraSettings({ r: 4, dropout: 0.5 }, 'marian'), new Rng(2));
  randomizeB(lora, 7);
  const x = tf.randomNormal([5, model.config.d_model], 0, 1, 'float32', 3);
  const module = 'model.encoder.layers.0.self_attn.q_proj';
  const plain = lora.delta(module, x).dataSync();
  const trained = lora.delta(module, x, new Rng(1)).dataSync();
  expect(trained).not.toEqual(plain);
  // Same seed, same mask (what activation checkpointing's recomputation relies on).
  expect(lora.delta(module, x, new Rng(1)).dataSync()).toEqual(trained);
  x.dispose();
});

test('target matching follows PEFT: exact path, a dotted suffix, or a regex over the whole path', () => {
  expect(isTargetModule('model.encoder.layers.0.self_attn.q_proj', ['q_proj'])).toBe(true);
  expect(isTargetModule('model.encoder.layers.0.self_attn.q_proj', ['self_attn.q_proj'])).toBe(true);
  expect(isTargetModule('model.encoder.layers.0.self_attn.xq_proj', ['q_proj'])).toBe(false);
  expect(isTargetModule('model.decoder.layers.1.encoder_attn.v_proj', '.*decoder.*(q|v)_proj')).toBe(true);
  expect(isTargetModule('model.encoder.layers.1.self_attn.v_proj', '.*decoder.*(q|v)_proj')).toBe(false);
});

test('bad LoRA options are INVALID_OPTION naming the flag', () => {
  expect(() => resolveLoraSettings({ r: 0 }, 'marian')).toThrow(
    /--lora must be a positive integer rank, got 0/,
  );
  expect(() => resolveLoraSettings({ r: 2.5 }, 'marian')).toThrow(/--lora must/);
  expect(() => resolveLoraSettings({ r: 2, alpha: -1 }, 'marian')).toThrow(/--lora-alpha/);
  expect(() => resolveLoraSettings({ r: 2, dropout: 1 }, 'marian')).toThrow(/--lora-dropout/);
  expect(() => resolveLoraSettings({ r: 2, targets: [] }, 'marian')).toThrow(/--lora-targets/);
  const model = marian();
  expect(() =>
    attachLora(model, resolveLoraSettings({ r: 2, targets: ['query'] }, 'marian'), new Rng(1)),
  ).toThrow(/--lora-targets query match no linear layer/);
});

test('frozenLinearProduct: linearProduct’s value bit for bit, its d x, and no gradient for W', () => {
  const x = tf.variable(tf.randomNormal([6, 5], 0, 1, 'float32', 1));
  const w = tf.variable(tf.randomNormal([4, 5], 0, 1, 'float32', 2));
  const dy = tf.randomNormal([6, 4], 0, 1, 'float32', 3);
  expect(frozenLinearProduct(x, w).dataSync()).toEqual(linearProduct(x, w).dataSync());
  const loss = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => () =>
    tf.sum(tf.mul(f(x, w), dy)) as tf.Scalar;
  const frozen = tf.variableGrads(loss(frozenLinearProduct), [x, w]).grads;
  const full = tf.variableGrads(loss(linearProduct), [x, w]).grads;
  expect(frozen[x.name].dataSync()).toEqual(full[x.name].dataSync());
  // d x = dy W, by definition.
  const expected = tf.matMul(dy, w).dataSync();
  frozen[x.name].dataSync().forEach((v, i) => {
    expect(v).toBeCloseTo(expected[i], 5);
  });
  expect(frozen[w.name]).toBeUndefined();
  expect(full[w.name]).toBeDefined();
  tf.dispose([x, w, dy]);
});
