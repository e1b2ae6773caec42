import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { makeConfig } from './config.js';
import { activate, embeddingLookup, MarianModel, sinusoidalPositions } from './marian.js';

/*
 * HF semantics of the forward pass (transformers/models/marian/modeling_marian.py), checked against values derived
 * by hand from its equations, never against this model's own output:
 *   MarianSinusoidalPositionalEmbedding: θ(pos, j) = pos / 10000^(2⌊j/2⌋/d); columns [0, d/2) = sin θ(pos, 2i),
 *     columns [d/2, d) = cos θ(pos, 2i+1)  (sin half, then cos half; not interleaved).
 *   Encoder/decoder input: embed_tokens(ids) · √d (scale_embedding) + positions.
 *   Layers are post-norm: h = LayerNorm(h + Dropout(Sublayer(h))), LayerNorm eps 1e-5.
 *   lm_logits = h · sharedᵀ + final_logits_bias.
 */

beforeAll(async () => {
  await initBackend('wasm');
});

test('position table: sin half then cos half, θ = pos / 10000^(2i/d)', () => {
  const table = sinusoidalPositions(3, 4).arraySync();
  // d = 4: frequencies 1 and 1/100.
  expect(table[0]).toEqual([0, 0, 1, 1]);
  const row = table[2];
  [Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02)].forEach((v, j) => {
    expect(row[j]).toBeCloseTo(v, 6);
  });
});

test('activations equal HF ACT2FN at hand values', () => {
  const x = tf.tensor1d([-1, 0, 1, 2]);
  const values = (name: string) => Array.from(activate(x, name).dataSync());
  const close = (actual: number[], expected: number[]) =>
    expected.forEach((e, i) => {
      expect(actual[i]).toBeCloseTo(e, 6);
    });
  const swish = [-1 / (1 + Math.E), 0, 1 / (1 + Math.exp(-1)), 2 / (1 + Math.exp(-2))];
  close(values('swish'), swish);
  close(values('silu'), swish);
  // Exact GELU x·Φ(x): Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208.
  close(values('gelu'), [-(1 - 0.8413447460685429), 0, 0.8413447460685429, 2 * 0.9772498680518208]);
  const tanhGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  close(values('gelu_new'), [-1, 0, 1, 2].map(tanhGelu));
  // gelu and gelu_new differ (by ~1e-4 at x = 2): the config's name is honoured.
  expect(Math.abs(values('gelu')[3] - values('gelu_new')[3])).toBeGreaterThan(5e-5);
  close(values('relu'), [0, 0, 1, 2]);
});

describe('a tiny model with zero sublayers', () => {
  // d = 4, vocab 6, pad 5 (≠ 0, as in OPUS-MT), one encoder and one decoder layer.
  const config = {
    ...makeConfig(6, 'tiny'),
    d_model: 4,
    encoder_attention_heads: 2,
    decoder_attention_heads: 2,
    encoder_ffn_dim: 8,
    decoder_ffn_dim: 8,
    max_position_embeddings: 8,
    pad_token_id: 5,
    decoder_start_token_id: 5,
    eos_token_id: 0,
  };
  const embedding = Array.from({ length: 6 * 4 }, (_, i) => Math.sin(1.3 * i + 0.2));
  const bias = [0.5, -0.25, 0, 1, 2, -3];

  function zeroModel(): MarianModel {
    const model = new MarianModel(config, new Rng(1));
    for (const [name, v] of model.params) {
      if (name === 'model.shared.weight') v.assign(tf.tensor2d(embedding, [6, 4]));
      else if (name.endsWith('layer_norm.weight')) v.assign(tf.onesLike(v));
      else v.assign(tf.zerosLike(v));
    }
    model.outputBias.assign(tf.tensor2d(bias, [1, 6]));
    return model;
  }

  const layerNorm = (v: number[]) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    return v.map((x) => (x - mean) / Math.sqrt(variance + 1e-5));
  };
  const position = (pos: number) => [Math.sin(pos), Math.sin(pos / 100), Math.cos(pos), Math.cos(pos / 100)];

  test('logits = LN(LN(LN(√d·E[y] + P[t])))·Eᵀ + final_logits_bias (post-norm: three sublayers adding 0)', () => {
    const model = zeroModel();
    const decoderIds = [5, 2, 3];
    const logits = tf.tidy(() =>
      model.decode(
        tf.tensor2d([decoderIds], [1, 3], 'int32'),
        model.encode(tf.tensor2d([[1, 4, 0]], [1, 3], 'int32')),
      ),
    );
    const actual = logits.arraySync()[0];
    decoderIds.forEach((id, t) => {
      const input = embedding.slice(id * 4, id * 4 + 4).map((e, j) => 2 * e + position(t)[j]); // √4 = 2
      const h = layerNorm(layerNorm(layerNorm(input)));
      for (let v = 0; v < 6; v++) {
        const expected = h.reduce((a, x, j) => a + x * embedding[v * 4 + j], 0) + bias[v];
        expect(actual[t][v], `t=${t} v=${v}`).toBeCloseTo(expected, 4);
      }
    });
    model.dispose();
  });
});

describe('masks', () => {
  const config = { ...makeConfig(12, 'tiny'), pad_token_id: 11, decoder_start_token_id: 11, eos_token_id: 0 };
  let model: MarianModel;
  beforeAll(() => {
    model = new MarianModel(config, new Rng(3));
  });
  const logitsOf = (source: number[][], target: number[][]) =>
    tf.tidy(() => {
      const src = tf.tensor2d(source, undefined, 'int32');
      return model.decode(tf.tensor2d(target, undefined, 'int32'), model.encode(src)).arraySync();
    });

  test('causal: position t does not see the decoder inputs after t', () => {
    const a = logitsOf([[3, 4, 0]], [[11, 6, 7, 8]]);
    const b = logitsOf([[3, 4, 0]], [[11, 6, 9, 2]]);
    for (const t of [0, 1]) {
      a[0][t].forEach((v, k) => {
        expect(b[0][t][k]).toBeCloseTo(v, 5);
      });
    }
    expect(Math.abs(a[0][2][0] - b[0][2][0])).toBeGreaterThan(1e-4);
  });

  test('padding: source pad (config pad_token_id 11) is masked; the same ids unmasked change the output', () => {
    const alone = logitsOf([[3, 4, 0]], [[11, 6, 7]]);
    const padded = logitsOf([[3, 4, 0, 11, 11]], [[11, 6, 7]]);
    alone[0].forEach((row, t) => {
      row.forEach((v, k) => {
        expect(padded[0][t][k]).toBeCloseTo(v, 5);
      });
    });
    // Id 10 is not padding: attending to it moves the logits (so the equality above is the mask's doing).
    const unmasked = logitsOf([[3, 4, 0, 10, 10]], [[11, 6, 7]]);
    expect(Math.abs(unmasked[0][1][2] - alone[0][1][2])).toBeGreaterThan(1e-4);
  });
});

test('embedding lookup: rows get the sum of their upstream gradients, the padding_idx row none', () => {
  const table = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
  const ids = tf.tensor2d([[2, 0, 2, 1]], [1, 4], 'int32');
  const upstream = tf.tensor3d([
    [
      [1, 10],
      [100, 1000],
      [2, 20],
      [7, 70],
    ],
  ]);
  const gradient = (paddingIdx?: number) =>
    Array.from(
      tf
        .variableGrads(
          () => tf.sum(tf.mul(embeddingLookup(table, ids, paddingIdx), upstream)) as tf.Scalar,
          [table],
        )
        .grads[table.name].dataSync(),
    );
  expect(gradient()).toEqual([100, 1000, 7, 70, 3, 30]);
  expect(gradient(0)).toEqual([0, 0, 7, 70, 3, 30]);
  expect(Array.from(embeddingLookup(table, ids, 0).dataSync())).toEqual([5, 6, 1, 2, 5, 6, 3, 4]);
});
