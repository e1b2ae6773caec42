import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readSafetensors } from '../../checkpoint/safetensors.js';
import type { MarianModel } from '../../model/marian.js';
import { nodeFolder } from '../../node/node-folder.js';
import { Rng } from '../../rng.js';
import { initBackend } from '../../training/backend.js';
import { modelGradients } from '../../training/backprop.js';
import { lossOptions } from '../../training/loss.js';
import {
  copyM2M100Tokenizer,
  loadM2M100Folder,
  loadM2M100Weights,
  readM2M100Config,
  saveM2M100Model,
} from './checkpoint.js';
import { greedyGenerate } from './generation.js';
import { M2M100Model, m2m100PositionIds, m2m100SinusoidalTable } from './modeling.js';

/*
 * Golden values: fixtures/<name>/reference.json, written by scripts/make-m2m100-fixtures.py with
 * scripts/m2m100_reference.py (HF modeling_m2m_100.py re-implemented in PyTorch from its source, run in float64,
 * dropout off). Hand-derived values for the position table and ids.
 */

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

interface Reference {
  pairs: { source_ids: number[]; labels: number[]; log_probs: number[] }[];
  mean_nll: number;
  gradients: Record<string, { shape?: number[]; rows?: number[]; values: number[] | number[][] }>;
  greedy: { max_new_tokens: number; forced_bos_token_id: number; outputs: number[][] };
}

const readReference = (name: string): Reference =>
  JSON.parse(readFileSync(join(fixtures, name, 'reference.json'), 'utf8'));

beforeAll(async () => {
  await initBackend('wasm');
});

test('sinusoidal table: half sin, half cos, freq_i = exp(−i·ln 10000/(h−1)), pad row zero', () => {
  // d = 4: h = 2, frequencies 1 and 10000^−1 = 1e-4.
  const table = m2m100SinusoidalTable(4, 4, 1);
  expect(Array.from(table.subarray(4, 8))).toEqual([0, 0, 0, 0]); // padding_idx 1
  expect(Array.from(table.subarray(0, 4))).toEqual([0, 0, 1, 1]);
  const row3 = [Math.sin(3), Math.sin(3e-4), Math.cos(3), Math.cos(3e-4)];
  row3.forEach((v, j) => {
    expect(table[12 + j]).toBeCloseTo(v, 6);
  });
  // d = 8: h = 4, freq_i = 10000^(−i/3); row 2, column 1 is sin(2·10000^(−1/3)), column 4 + 2 is cos(2·10000^(−2/3)).
  const wide = m2m100SinusoidalTable(3, 8, 0);
  expect(wide[2 * 8 + 1]).toBeCloseTo(Math.sin(2 * 10000 ** (-1 / 3)), 6);
  expect(wide[2 * 8 + 6]).toBeCloseTo(Math.cos(2 * 10000 ** (-2 / 3)), 6);
});

test('position ids count non-pad tokens from pad + 1; padding reads the pad row', () => {
  // pad = 1: rows [5 6 1 1] and [7 1 8 9] (a pad inside the row does not advance the count).
  expect(Array.from(m2m100PositionIds([5, 6, 1, 1, 7, 1, 8, 9], 4, 1))).toEqual([2, 3, 1, 1, 2, 1, 3, 4]);
  // Incremental decoding after 4 tokens: position pad + 1 + 4.
  expect(Array.from(m2m100PositionIds([9, 1], 1, 1, 4))).toEqual([6, 1]);
});

/** Teacher-forced batch as HF builds it from labels: sources padded with pad, labels shifted right after start. */
function batch(model: M2M100Model, reference: Reference) {
  const { pad_token_id: pad, decoder_start_token_id: start } = model.config;
  const sources = reference.pairs.map((p) => p.source_ids);
  const labels = reference.pairs.map((p) => p.labels);
  const s = Math.max(...sources.map((x) => x.length));
  const t = Math.max(...labels.map((x) => x.length));
  const source = tf.tensor2d(
    sources.flatMap((x) => [...x, ...Array(s - x.length).fill(pad)]),
    [sources.length, s],
    'int32',
  );
  const decoderInput = tf.tensor2d(
    labels.flatMap((x) => [start, ...x.slice(0, -1), ...Array(t - x.length).fill(pad)]),
    [labels.length, t],
    'int32',
  );
  const flatLabels = Int32Array.from(labels.flatMap((x) => [...x, ...Array(t - x.length).fill(-100)]));
  return { source, decoderInput, labels: flatLabels, t };
}

function maxAbsDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

describe.each([
  ['nllb-200-tiny', 'model.safetensors'],
  ['m2m100-tiny', 'pytorch_model.bin'],
])('%s against the PyTorch reference of HF M2M100ForConditionalGeneration', (name, weights) => {
  const reference = readReference(name);
  let model: M2M100Model;

  beforeAll(() => {
    model = loadM2M100Folder(nodeFolder(join(fixtures, name))).model;
  });
  afterAll(() => model.dispose());

  test(`loads ${weights} and its two-shard variant to the same parameters`, () => {
    const variant = name === 'nllb-200-tiny' ? 'variants/sharded' : 'variants/sharded-bin';
    const other = new M2M100Model(readM2M100Config(nodeFolder(join(fixtures, name))), new Rng(1));
    loadM2M100Weights(other, nodeFolder(join(fixtures, name, variant)));
    for (const [key, v] of model.params) expect(other.params.get(key)!.dataSync(), key).toEqual(v.dataSync());
    other.dispose();
  });

  test('per-token log-probabilities within 2e-5 (padded batch)', () => {
    const { source, decoderInput, labels, t } = batch(model, reference);
    const logProbs = tf.tidy(() =>
      tf.logSoftmax(model.decode(decoderInput, model.encode(source))).arraySync(),
    );
    let worst = 0;
    reference.pairs.forEach((pair, b) => {
      const ours = pair.labels.map((label, j) => logProbs[b][j][label]);
      worst = Math.max(worst, maxAbsDifference(ours, pair.log_probs));
    });
    console.log(
      `${name}: max |Δ log-prob| = ${worst.toExponential(2)} over ${labels.filter((l) => l >= 0).length} tokens (T = ${t})`,
    );
    expect(worst).toBeLessThan(2e-5);
    tf.dispose([source, decoderInput]);
  });

  test('gradients of the mean NLL within 2e-4', () => {
    const { source, decoderInput, labels } = batch(model, reference);
    const count = labels.filter((l) => l >= 0).length;
    const picks = tf.tensor1d(
      Int32Array.from(labels, (l) => Math.max(l, 0)),
      'int32',
    );
    const weights = tf.tensor1d(Float32Array.from(labels, (l) => (l >= 0 ? 1 / count : 0)));
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.decode(decoderInput, model.encode(source));
      const flat = tf.logSoftmax(tf.reshape(logits, [-1, model.config.vocab_size]));
      const picked = tf.sum(tf.mul(flat, tf.oneHot(picks, model.config.vocab_size)), 1);
      return tf.neg(tf.sum(tf.mul(picked, weights))) as tf.Scalar;
    });
    expect(value.dataSync()[0]).toBeCloseTo(reference.mean_nll, 5);
    const byName = new Map([...model.params].map(([key, v]) => [key, grads[v.name].dataSync()]));
    let worst = 0;
    for (const [key, expected] of Object.entries(reference.gradients)) {
      const ours = byName.get(key)!;
      if (expected.rows) {
        const d = model.config.d_model;
        expected.rows.forEach((row, i) => {
          worst = Math.max(
            worst,
            maxAbsDifference(ours.subarray(row * d, row * d + d), (expected.values as number[][])[i]),
          );
        });
      } else worst = Math.max(worst, maxAbsDifference(ours, expected.values as number[]));
    }
    console.log(
      `${name}: max |Δ gradient| = ${worst.toExponential(2)} (${Object.keys(reference.gradients).length} parameters)`,
    );
    expect(worst).toBeLessThan(2e-4);
    // The pad row's gradient comes from the tied output projection only (as in HF, where lm_head shares it);
    // the lookup itself gives it none: see the test below.
    tf.dispose([source, decoderInput, picks, weights, value, ...Object.values(grads)]);
  });

  test.each([false, true])(
    'the trainer’s modelGradients (checkpointed: %s) gives the same gradients',
    (checkpoint) => {
      const { source, decoderInput, labels } = batch(model, reference);
      const count = labels.filter((l) => l >= 0).length;
      const sums = new Map<string, Float32Array>();
      // The trainer is typed on MarianModel until it takes the registry's Seq2SeqModel.
      modelGradients(
        model as unknown as MarianModel,
        { source, decoderInput, labels },
        lossOptions({ kind: 'ce' }),
        (key, values) => {
          const sum = sums.get(key);
          if (sum) for (let i = 0; i < values.length; i++) sum[i] += values[i];
          else sums.set(key, Float32Array.from(values));
        },
        { checkpoint },
      );
      expect([...sums.keys()].sort()).toEqual([...model.params.keys()].sort());
      let worst = 0;
      for (const [key, expected] of Object.entries(reference.gradients)) {
        const mean = sums.get(key)!.map((v) => v / count);
        if (expected.rows) {
          const d = model.config.d_model;
          expected.rows.forEach((row, i) => {
            worst = Math.max(
              worst,
              maxAbsDifference(mean.subarray(row * d, row * d + d), (expected.values as number[][])[i]),
            );
          });
        } else worst = Math.max(worst, maxAbsDifference(mean, expected.values as number[]));
      }
      expect(worst).toBeLessThan(2e-4);
      tf.dispose([source, decoderInput]);
    },
  );

  test('greedy generation with the target language forced first is identical', () => {
    const { max_new_tokens: maxNewTokens, forced_bos_token_id: forcedBosTokenId, outputs } = reference.greedy;
    const sources = reference.pairs.map((p) => p.source_ids);
    expect(greedyGenerate(model, sources, { forcedBosTokenId, maxNewTokens })).toEqual(outputs);
  });
});

test('the embedding lookup sends no gradient into the pad row (nn.Embedding(padding_idx))', () => {
  const model = new M2M100Model(readM2M100Config(nodeFolder(join(fixtures, 'nllb-200-tiny'))), new Rng(2));
  const { d_model: d, pad_token_id: pad } = model.config;
  const ids = tf.tensor2d([5, pad, 7, pad], [2, 2], 'int32');
  const shared = model.outputWeight;
  const { grads } = tf.variableGrads(() => tf.sum(model.embedInputs(ids)) as tf.Scalar, [shared]);
  const g = grads[shared.name].dataSync();
  expect(Array.from(g.subarray(pad * d, pad * d + d))).toEqual(Array(d).fill(0));
  // Each real token's row: ∂/∂row of Σ(√d·row + positions) = √d per element.
  expect(g[5 * d]).toBeCloseTo(Math.sqrt(d), 5);
  tf.dispose([ids, ...Object.values(grads)]);
  model.dispose();
});

test('incremental decoding (step) gives the teacher-forced logits at every position', () => {
  const { model } = loadM2M100Folder(nodeFolder(join(fixtures, 'nllb-200-tiny')));
  const rng = new Rng(5);
  const sources = [
    [447, 34, 47, 77, 2],
    [447, 20, 58, 8, 331, 25, 2],
  ];
  // Decoder inputs without <pad> (HF's incremental positions count steps, the teacher-forced ones count non-pads).
  const targets = sources.map(() => [2, ...Array.from({ length: 7 }, () => 4 + rng.int(590))]);
  const source = tf.tensor2d([...sources[0], 1, 1, ...sources[1]], [2, 7], 'int32');
  const encoded = model.encode(source);
  const forced = tf.tidy(() =>
    model.decode(tf.tensor2d(targets.flat(), [2, 8], 'int32'), encoded).arraySync(),
  );
  const state = model.startDecoding(encoded);
  let worst = 0;
  for (let t = 0; t < 8; t++) {
    const logits = model.step(state, tf.tensor1d([targets[0][t], targets[1][t]], 'int32')).arraySync();
    for (let b = 0; b < 2; b++) worst = Math.max(worst, maxAbsDifference(logits[b], forced[b][t]));
  }
  expect(worst).toBeLessThan(1e-4);
  model.dispose();
});

describe('LayerDrop and dropout', () => {
  const config = readM2M100Config(nodeFolder(join(fixtures, 'nllb-200-tiny')));

  test('in training a layer is skipped with probability layerdrop; never in evaluation', () => {
    const model = new M2M100Model(
      { ...config, encoder_layerdrop: 0.5, dropout: 0, attention_dropout: 0 },
      new Rng(3),
    );
    const x = tf.randomNormal([1, 3, config.d_model], 0, 1, 'float32', 7);
    const bias = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    const input = x.dataSync();
    let skipped = 0;
    const trials = 200;
    const rng = new Rng(11);
    for (let i = 0; i < trials; i++) {
      const out = tf.tidy(() => model.encoderLayer(0, x, bias, rng).dataSync());
      if (maxAbsDifference(out, input) === 0) skipped++;
    }
    // Binomial(200, 0.5): 100 ± 7; outside [60, 140] has probability < 1e-8.
    expect(skipped).toBeGreaterThan(60);
    expect(skipped).toBeLessThan(140);
    const evaluation = tf.tidy(() => model.encoderLayer(0, x, bias).dataSync());
    expect(maxAbsDifference(evaluation, input)).toBeGreaterThan(0);
    tf.dispose([x, bias]);
    model.dispose();
  });

  test('the last layer applies the stack’s final layer_norm even when LayerDrop skips it', () => {
    const model = new M2M100Model({ ...config, encoder_layerdrop: 0.999999 }, new Rng(3));
    model.params.get('model.encoder.layer_norm.bias')!.assign(tf.fill([config.d_model], 5));
    const x = tf.randomNormal([1, 2, config.d_model], 0, 1, 'float32', 9);
    const out = tf.tidy(() =>
      model.encoderLayer(config.encoder_layers - 1, x, tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, new Rng(1)),
    );
    // LayerNorm with weight 1, bias 5 of the untouched input: mean 5 per row.
    const rows = tf.mean(out, -1).dataSync();
    rows.forEach((m) => {
      expect(m).toBeCloseTo(5, 5);
    });
    expect(model.layerParams(`model.encoder.layers.${config.encoder_layers - 1}`).map(([n]) => n)).toContain(
      'model.encoder.layer_norm.weight',
    );
    tf.dispose([x, out]);
    model.dispose();
  });
});

test.each(['nllb-200-tiny', 'm2m100-tiny'])(
  '%s: a saved folder loads back to the same model and tokenizer',
  (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'el-m2m100-'));
    try {
      const { model, tokenizer } = loadM2M100Folder(nodeFolder(join(fixtures, name)));
      saveM2M100Model(model, nodeFolder(dir));
      copyM2M100Tokenizer(nodeFolder(join(fixtures, name)), nodeFolder(dir));
      const saved = readSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors;
      expect([...saved.keys()].sort()).toEqual([...model.params.keys()].sort()); // no tied copies, no positions
      const again = loadM2M100Folder(nodeFolder(dir));
      for (const [key, v] of model.params)
        expect(again.model.params.get(key)!.dataSync(), key).toEqual(v.dataSync());
      expect(again.model.config).toEqual({ ...model.config });
      expect(again.tokenizer.encodeSource('the office')).toEqual(tokenizer.encodeSource('the office'));
      model.dispose();
      again.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
