import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { embeddingLookup } from '../model/marian.js';
import { matmul, matmulTransposed } from '../model/matmul.js';
import { initBackend } from './backend.js';
import { IGNORE_INDEX, lossOptions, tokenLoss, tokenLossParts } from './loss.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const { log } = Math;

// [B, T, V] = [2, 2, 2]: p_y = 3/4, 1/2, padding, 7/8.
const handLogits = () =>
  tf.tensor3d([
    [
      [log(3), 0],
      [0, 0],
    ],
    [
      [5, -2],
      [0, log(7)],
    ],
  ]);
const handLabels = () => tf.tensor2d([0, 1, IGNORE_INDEX, 1], [2, 2], 'int32');

test('loss options: CE is EL with bonus weight 0, EL has logEnd 1, CEL keeps logEnd; padding ignored', () => {
  expect(lossOptions({ kind: 'ce', labelSmoothing: 0.1 })).toMatchObject({
    bonusWeight: 0,
    labelSmoothing: 0.1,
    ignoreIndex: IGNORE_INDEX,
  });
  expect(lossOptions({ kind: 'el' })).toMatchObject({ logEnd: 1, bonusWeight: 1 });
  expect(lossOptions({ kind: 'cel' })).toMatchObject({ logEnd: 0.5 });
  expect(lossOptions({ kind: 'cel', logEnd: 0.75, bonusWeight: 2 })).toMatchObject({
    logEnd: 0.75,
    bonusWeight: 2,
  });
  expect(() => lossOptions({ kind: 'mse' as 'ce' })).toThrow(
    expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/got mse/) }),
  );
});

/*
 * Hand derivation, V = 2, ρ = 1, ε = 0. CE = −log p_y; EL adds log(1 − p_y); CEL(0.5) adds, for p_y > 1/2, the
 * tangent −log 2 − 2(p_y − 1/2). Gradient per token: (p − y) + ρ·b'(p_y)·p_y·(y − p), b' = −1/(1 − p) or −2.
 *   p_y = 3/4:  EL ln(4/3) + ln(1/4) = −ln 3,   grad (−1, 1);  CEL ln(2/3) − 1/2,  grad (−5/8, 5/8)
 *   p_y = 1/2:  EL 0,                           grad (1, −1);  CEL 0,              grad (1, −1)
 *   p_y = 7/8:  EL ln(8/7) + ln(1/8) = −ln 7,   grad (1, −1);  CEL ln(4/7) − 3/4,  grad (11/32, −11/32)
 */
test('EL and CEL on [B, T, V] logits: summed values and gradients equal the hand derivation, padding ignored', () => {
  const cases = [
    {
      kind: 'el' as const,
      value: -log(21),
      grad: [-1, 1, 1, -1, 0, 0, 1, -1],
    },
    {
      kind: 'cel' as const,
      value: log(8 / 21) - 5 / 4,
      grad: [-5 / 8, 5 / 8, 1, -1, 0, 0, 11 / 32, -11 / 32],
    },
  ];
  for (const { kind, value, grad } of cases) {
    const options = lossOptions({ kind, logEnd: 0.5 });
    const logits = handLogits();
    const labels = handLabels();
    const { value: loss, grads } = tf.valueAndGrads((x: tf.Tensor) => tokenLoss(x, labels, options))([
      logits,
    ]);
    expect(loss.dataSync()[0]).toBeCloseTo(value, 6);
    Array.from(grads[0].dataSync()).forEach((g, i) => {
      expect(g, `${kind} grad[${i}]`).toBeCloseTo(grad[i], 6);
    });
    tf.dispose([logits, labels, loss, ...grads]);
  }
});

test('loss parts: per-token NLL (plain CE), bonus and loss of the hand example, padding not counted', () => {
  const logits = handLogits();
  const labels = handLabels();
  const el = tokenLossParts(logits, labels, lossOptions({ kind: 'el' }));
  expect(el.tokens).toBe(3);
  expect(el.nll).toBeCloseTo((log(4 / 3) + log(2) + log(8 / 7)) / 3, 6);
  expect(el.bonus).toBeCloseTo((log(1 / 4) + log(1 / 2) + log(1 / 8)) / 3, 6);
  expect(el.loss).toBeCloseTo(-log(21) / 3, 6);
  // With label smoothing the loss changes, the NLL logged for perplexity does not.
  const smoothed = tokenLossParts(logits, labels, lossOptions({ kind: 'cel', labelSmoothing: 0.1 }));
  expect(smoothed.nll).toBeCloseTo(el.nll, 6);
  expect(smoothed.loss).not.toBeCloseTo(el.loss, 3);
  tf.dispose([logits, labels]);
});

/** An independent float64 definition: ℓ = Σ_k q_k (−log p_k + ρ b(p_k)), q = (1 − ε) onehot + ε/V. */
function referenceLoss(
  logits: Float64Array,
  labels: number[],
  vocab: number,
  { logEnd, rho, epsilon }: { logEnd: number; rho: number; epsilon: number },
): number {
  const bonus = (p: number) =>
    p <= logEnd ? Math.log1p(-p) : Math.log1p(-logEnd) - (p - logEnd) / (1 - logEnd);
  let total = 0;
  labels.forEach((y, row) => {
    if (y === IGNORE_INDEX) return;
    const z = logits.subarray(row * vocab, (row + 1) * vocab);
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
    for (let k = 0; k < vocab; k++) {
      const q = (k === y ? 1 - epsilon : 0) + epsilon / vocab;
      const logP = z[k] - lse;
      total += q * (-logP + rho * bonus(Math.exp(logP)));
    }
  });
  return total;
}

test('gradient of CEL with ε = 0.1 on [2, 3, 5] logits matches central differences of a float64 reference', () => {
  const [b, t, v] = [2, 3, 5];
  const data = Float32Array.from({ length: b * t * v }, (_, i) => Math.sin(i * 1.7) * 3);
  const labels = [2, 4, IGNORE_INDEX, 0, 1, IGNORE_INDEX];
  const settings = { logEnd: 0.5, rho: 1, epsilon: 0.1 };
  const options = lossOptions({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
  const logits = tf.tensor3d(data, [b, t, v]);
  const labelTensor = tf.tensor2d(labels, [b, t], 'int32');
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tokenLoss(x, labelTensor, options))([logits]);
  const base = Float64Array.from(data);
  expect(value.dataSync()[0]).toBeCloseTo(referenceLoss(base, labels, v, settings), 5);
  const grad = grads[0].dataSync();
  for (let i = 0; i < base.length; i++) {
    const h = 1e-6;
    const up = base.slice();
    const down = base.slice();
    up[i] += h;
    down[i] -= h;
    const numeric =
      (referenceLoss(up, labels, v, settings) - referenceLoss(down, labels, v, settings)) / (2 * h);
    expect(grad[i], `grad[${i}]`).toBeCloseTo(numeric, 5);
  }
  // Padding rows (t = 2 of batch 0, t = 2 of batch 1) get exactly zero gradient.
  for (const row of [2, 5]) expect(Array.from(grad.slice(row * v, (row + 1) * v))).toEqual([0, 0, 0, 0, 0]);
  tf.dispose([logits, labelTensor, value, ...grads]);
});

test('embedding lookup gradient on wasm: rows receive the sum of their upstream gradients', () => {
  const table = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
  const ids = tf.tensor2d([[2, 0, 2]], [1, 3], 'int32');
  const upstream = tf.tensor3d([
    [
      [1, 10],
      [100, 1000],
      [2, 20],
    ],
  ]);
  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(embeddingLookup(table, ids), upstream)) as tf.Scalar,
    [table],
  );
  expect(Array.from(grads[table.name].dataSync())).toEqual([100, 1000, 0, 0, 3, 30]);
  expect(Array.from(embeddingLookup(table, ids).dataSync())).toEqual([5, 6, 1, 2, 5, 6]);
});

test('matmul with explicit transposes has tfjs matMul’s value and gradients', () => {
  const a = tf.tensor3d(
    Float32Array.from({ length: 24 }, (_, i) => Math.cos(i)),
    [2, 3, 4],
  );
  const b = tf.tensor3d(
    Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)),
    [2, 2, 4],
  );
  const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(matmulTransposed(x, y))))([a, b]);
  const reference = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true))))(
    [a, b],
  );
  ours.forEach((g, i) => {
    const expected = reference[i].dataSync();
    g.dataSync().forEach((v, j) => {
      expect(v).toBeCloseTo(expected[j], 4);
    });
  });
  expect(matmul(tf.eye(2), tf.tensor2d([1, 2, 3, 4], [2, 2])).dataSync()).toEqual(
    new Float32Array([1, 2, 3, 4]),
  );
});
