import { encouragingLossWithGrad } from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from './backend.js';
import { IGNORE_INDEX, lossOptions, tokenLoss, tokenLossParts } from './loss.js';
import { matmul, matmulTransposed } from './matmul.js';
import { embeddingLookup } from './model.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const logitsData = Float32Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i * 1.7) * 3);
const targets = Int32Array.from([2, IGNORE_INDEX, 0, 4]);

test('loss options: CE is EL with bonus weight 0, EL has logEnd 1, CEL keeps logEnd', () => {
  expect(lossOptions({ kind: 'ce', labelSmoothing: 0.1 })).toMatchObject({
    bonusWeight: 0,
    labelSmoothing: 0.1,
  });
  expect(lossOptions({ kind: 'el' })).toMatchObject({ logEnd: 1, bonusWeight: 1 });
  expect(lossOptions({ kind: 'cel' })).toMatchObject({ logEnd: 0.5 });
  expect(lossOptions({ kind: 'cel', logEnd: 0.75, bonusWeight: 2 })).toMatchObject({
    logEnd: 0.75,
    bonusWeight: 2,
  });
  expect(() => lossOptions({ kind: 'mse' as 'ce' })).toThrow(/--loss must be ce, el or cel, got mse/);
});

test('tokenLoss: value and tfjs gradient are core’s, padding ignored, finite differences agree', () => {
  const options = lossOptions({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
  const logits = tf.tensor2d(logitsData, [4, 5]);
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tokenLoss(x as tf.Tensor2D, targets, options))([
    logits,
  ]);
  const expected = encouragingLossWithGrad(
    { data: logitsData, shape: [4, 5] },
    { data: targets, shape: [4] },
    options,
  );
  expect(value.dataSync()[0]).toBeCloseTo(expected.loss.data[0], 6);
  const grad = grads[0].dataSync();
  expect(Array.from(grad)).toEqual(Array.from(expected.grad.data));
  // Row 1 is padding: no gradient.
  expect(Array.from(grad.slice(5, 10))).toEqual([0, 0, 0, 0, 0]);
  // Central differences in float64 through core's plain API.
  const f = (data: Float64Array) =>
    encouragingLossWithGrad({ data, shape: [4, 5] }, { data: targets, shape: [4] }, options).loss.data[0];
  const base = Float64Array.from(logitsData);
  for (const i of [0, 2, 11, 19]) {
    const h = 1e-5;
    const up = base.slice();
    const down = base.slice();
    up[i] += h;
    down[i] -= h;
    expect(grad[i]).toBeCloseTo((f(up) - f(down)) / (2 * h), 4);
  }
});

test('loss parts: NLL is plain CE, bonus is negative, loss = smoothed CE + ρ·bonus', () => {
  const options = lossOptions({ kind: 'el', labelSmoothing: 0 });
  const parts = tokenLossParts(logitsData, [4, 5], targets, options);
  expect(parts.tokens).toBe(3);
  expect(parts.bonus).toBeLessThan(0);
  expect(parts.loss).toBeCloseTo(parts.nll + parts.bonus, 5);
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
