import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { LAYER_NORM_KERNEL, layerNorm, layerNormOps } from './layer-norm.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

/** LayerNorm and its gradients in float64 from the definition, for one row-major [rows, d] input. */
function reference(x: number[], gamma: number[], beta: number[], dy: number[], d: number, eps: number) {
  const rows = x.length / d;
  const y: number[] = [];
  const dx: number[] = [];
  const dGamma = new Array(d).fill(0);
  const dBeta = new Array(d).fill(0);
  // dx = r·(g − mean g − x̂·mean(g x̂)) cancels (exactly 0 for d = 2): its float32 error scales with r·max|g|.
  const dxScale: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * d, (r + 1) * d);
    const mean = row.reduce((a, b) => a + b, 0) / d;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
    const rstd = 1 / Math.sqrt(variance + eps);
    const xhat = row.map((v) => (v - mean) * rstd);
    const g = xhat.map((_, j) => dy[r * d + j] * gamma[j]);
    const meanG = g.reduce((a, b) => a + b, 0) / d;
    const meanGx = g.reduce((a, b, j) => a + b * xhat[j], 0) / d;
    const gMax = Math.max(...g.map(Math.abs));
    for (let j = 0; j < d; j++) dxScale.push(rstd * gMax);
    for (let j = 0; j < d; j++) {
      y.push(xhat[j] * gamma[j] + beta[j]);
      dx.push(rstd * (g[j] - meanG - xhat[j] * meanGx));
      dGamma[j] += dy[r * d + j] * xhat[j];
      dBeta[j] += dy[r * d + j];
    }
  }
  return { y, dx, dGamma, dBeta, dxScale };
}

test('value and gradients equal the float64 definition (property over shapes and values)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 1, max: 1e6 }),
      (rows, d, seed) => {
        const x = tf.randomNormal([rows, d], 0, 2, 'float32', seed);
        const gamma = tf.randomNormal([d], 1, 0.5, 'float32', seed + 1);
        const beta = tf.randomNormal([d], 0, 0.5, 'float32', seed + 2);
        const dy = tf.randomNormal([rows, d], 0, 1, 'float32', seed + 3);
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          layerNorm(a, g, b, 1e-5),
        )([x, gamma, beta], dy);
        const want = reference(
          [...x.dataSync()],
          [...gamma.dataSync()],
          [...beta.dataSync()],
          [...dy.dataSync()],
          d,
          1e-5,
        );
        const close = (
          got: Float32Array | Int32Array | Uint8Array,
          expected: number[],
          what: string,
          scale?: number[],
        ) => {
          expected.forEach((e, i) => {
            const bound = 2e-5 * (1 + Math.abs(e)) + (scale ? 1e-5 * scale[i] : 0);
            if (Math.abs(got[i] - e) > bound) throw new Error(`${what}[${i}]: ${got[i]} vs ${e}`);
          });
        };
        close(value.dataSync(), want.y, 'y');
        close(grads[0].dataSync(), want.dx, 'dx', want.dxScale);
        close(grads[1].dataSync(), want.dGamma, 'dGamma');
        close(grads[2].dataSync(), want.dBeta, 'dBeta');
        tf.dispose([x, gamma, beta, dy, value, ...grads]);
      },
    ),
    { numRuns: 200 },
  );
  expect(tf.getKernel(LAYER_NORM_KERNEL, 'wasm')).toBeDefined();
});

test('matches the composed tfjs form on a [2, 3, 16] input with a constant row (variance 0: y = β)', () => {
  const rows = tf.concat([tf.fill([1, 16], 3.5), tf.randomNormal([5, 16], 0, 1, 'float32', 9)]);
  const x = tf.reshape(rows, [2, 3, 16]);
  const gamma = tf.randomNormal([16], 1, 0.3, 'float32', 10);
  const beta = tf.randomNormal([16], 0, 0.3, 'float32', 11);
  const ours = layerNorm(x, gamma, beta).dataSync();
  const theirs = layerNormOps(x, gamma, beta, 1e-5).dataSync();
  for (let i = 0; i < theirs.length; i++) expect(Math.abs(ours[i] - theirs[i])).toBeLessThan(1e-5);
  const b = beta.dataSync();
  for (let j = 0; j < 16; j++) expect(ours[j]).toBeCloseTo(b[j], 6);
});

test('rows with a large mean (|μ| ≫ σ: x ≈ 1000 ± 0.01) keep exact gradients; no tensor is left behind', () => {
  const d = 64;
  const base = Array.from({ length: 2 * d }, (_, i) => 1000 + 0.01 * Math.sin(i * 1.7));
  const x = tf.tensor2d(base, [2, d]);
  const gamma = tf.randomNormal([d], 1, 0.3, 'float32', 21);
  const beta = tf.randomNormal([d], 0, 0.3, 'float32', 22);
  const dy = tf.randomNormal([2, d], 0, 1, 'float32', 23);
  const before = tf.memory().numTensors;
  const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => layerNorm(a, g, b))(
    [x, gamma, beta],
    dy,
  );
  expect(tf.memory().numTensors).toBe(before + 3);
  const want = reference(
    [...x.dataSync()],
    [...gamma.dataSync()],
    [...beta.dataSync()],
    [...dy.dataSync()],
    d,
    1e-5,
  );
  const dx = grads[0].dataSync();
  // Relative to the row's gradient scale r·max|g| (r ≈ 140 here): float32 rounding of μ would cost ~1e-2 of it.
  for (let i = 0; i < want.dx.length; i++) {
    expect(Math.abs(dx[i] - want.dx[i])).toBeLessThan(1e-5 * want.dxScale[i]);
  }
  tf.dispose([x, gamma, beta, dy, ...grads]);
});
