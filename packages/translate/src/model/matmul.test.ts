import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../training/backend.js';
import {
  linearProduct,
  matmulTransposed,
  releaseWeightTransposes,
  withCachedWeightTransposes,
} from './matmul.js';

beforeAll(async () => {
  await initBackend('wasm');
});

test('cached weight transposes: same products, refreshed on assign, freed by release', () => {
  const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
  const w = tf.variable(tf.randomNormal([5, 4], 0, 1, 'float32', 2));
  const plain = () => tf.tidy(() => matmulTransposed(x, w).dataSync());
  const cached = () => withCachedWeightTransposes(() => tf.tidy(() => matmulTransposed(x, w).dataSync()));
  const before = tf.memory().numTensors;
  expect(cached()).toEqual(plain());
  expect(tf.memory().numTensors).toBe(before + 1); // the kept transpose
  expect(cached()).toEqual(plain());
  expect(tf.memory().numTensors).toBe(before + 1); // reused, not rebuilt
  const next = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
  w.assign(next);
  next.dispose(); // the variable holds its data now
  expect(cached()).toEqual(plain()); // new values: rebuilt, the stale one freed
  expect(tf.memory().numTensors).toBe(before + 1);
  releaseWeightTransposes();
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, w]);
});

/** x·wᵀ and its gradients for dy, in float64 from the definition (x [n, k], w [m, k], dy [n, m]). */
function linearReference(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  n: number,
  k: number,
  m: number,
) {
  const y = new Float64Array(n * m);
  const dx = new Float64Array(n * k);
  const dw = new Float64Array(m * k);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++)
      for (let l = 0; l < k; l++) {
        y[i * m + j] += x[i * k + l] * w[j * k + l];
        dx[i * k + l] += dy[i * m + j] * w[j * k + l];
        dw[j * k + l] += dy[i * m + j] * x[i * k + l];
      }
  return { y, dx, dw };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tolerance * (1 + Math.abs(expected[i])));
  }
}

test('linearProduct: x·wᵀ and both gradients equal the definition, with and without kept transposes', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.boolean(),
      (n, k, m, seed, cached) => {
        const x = tf.randomNormal([n, k], 0, 1, 'float32', seed) as tf.Tensor2D;
        const w = tf.variable(tf.randomNormal([m, k], 0, 1, 'float32', seed + 1));
        const dy = tf.randomNormal([n, m], 0, 1, 'float32', seed + 2);
        const run = () =>
          tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(linearProduct(a, b), dy)))([x, w]);
        const [dx, dw] = cached ? withCachedWeightTransposes(run) : run();
        const value = linearProduct(x, w);
        const want = linearReference(
          x.dataSync() as Float32Array,
          w.dataSync() as Float32Array,
          dy.dataSync() as Float32Array,
          n,
          k,
          m,
        );
        expectClose(value.dataSync(), want.y, 1e-5);
        expectClose(dx.dataSync(), want.dx, 1e-5);
        expectClose(dw.dataSync(), want.dw, 1e-5);
        expect(dw.shape).toEqual([m, k]);
        releaseWeightTransposes();
        tf.dispose([x, w, dy, dx, dw, value]);
      },
    ),
    { numRuns: 40 },
  );
});
