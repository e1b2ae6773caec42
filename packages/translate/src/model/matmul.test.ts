import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../training/backend.js';
import {
  addBias,
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

test('addBias: the value and both gradients of tf.add, bit for bit (the bias gradient a column sum in row order)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      // below 64 columns and not × 8 (tf.sum), 64–248 (the blocked kernel), from 256 (packed, split by panels)
      fc.oneof(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 8, max: 48 }).map((x) => 8 * x),
      ),
      fc.integer({ min: 0, max: 10_000 }),
      (rows, out, seed) => {
        tf.tidy(() => {
          const y = tf.randomNormal([rows, out], 0, 1, 'float32', seed);
          const bias = tf.randomNormal([out], 0, 1, 'float32', seed + 1);
          const dy = tf.randomNormal([rows, out], 0, 1, 'float32', seed + 2);
          const bits = (t: tf.Tensor) => Array.from(new Uint32Array(t.dataSync().buffer.slice(0)));
          const f = (g: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => tf.grads((a, b) => g(a, b));
          expect(bits(addBias(y, bias))).toEqual(bits(tf.add(y, bias)));
          const [gy, gb] = f(addBias)([y, bias], dy);
          const [ey, eb] = f(tf.add)([y, bias], dy);
          expect(gb.shape).toEqual([out]);
          expect(bits(gy)).toEqual(bits(ey));
          expect(bits(gb)).toEqual(bits(eb));
          // and the column sums are Σ dy over the rows (float64 reference, float32 rounding per step)
          const d = dy.dataSync();
          const g = gb.dataSync();
          for (let j = 0; j < out; j++) {
            let sum = 0;
            let magnitude = 0;
            for (let i = 0; i < rows; i++) {
              sum += d[i * out + j];
              magnitude += Math.abs(d[i * out + j]);
            }
            expect(Math.abs(g[j] - sum)).toBeLessThanOrEqual(rows * 2 ** -23 * magnitude);
          }
        });
      },
    ),
    { numRuns: 60 },
  );
});
