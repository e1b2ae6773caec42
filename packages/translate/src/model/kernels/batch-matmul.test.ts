import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { matmul, matmulTransposed } from '../matmul.js';
import { BATCH_MATMUL_KERNEL, batchMatMul } from './batch-matmul.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

/** op(A) @ op(B) per batch in float64, from the definition. */
function reference(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  [m, k, n]: number[],
  transposeA: boolean,
  transposeB: boolean,
): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) {
          const av = a[p * m * k + (transposeA ? l * m + i : i * k + l)];
          const bv = b[p * k * n + (transposeB ? j * k + l : l * n + j)];
          s += av * bv;
        }
        out[p * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

function random(size: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  return Float32Array.from({ length: size }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 2 ** 32) * 4 - 2;
  });
}

function check(
  batchDims: number[],
  [m, k, n]: number[],
  transposeA: boolean,
  transposeB: boolean,
  seed: number,
) {
  const batch = batchDims.reduce((x, y) => x * y, 1);
  const aData = random(batch * m * k, seed);
  const bData = random(batch * k * n, seed + 1);
  const a = tf.tensor(aData, [...batchDims, ...(transposeA ? [k, m] : [m, k])]);
  const b = tf.tensor(bData, [...batchDims, ...(transposeB ? [n, k] : [k, n])]);
  const c = batchMatMul(a, b, transposeA, transposeB);
  expect(c.shape).toEqual([...batchDims, m, n]);
  const got = c.dataSync();
  const want = reference(aData, bData, batch, [m, k, n], transposeA, transposeB);
  // float32 products summed in float32 over k terms of size ≤ 4: error ≤ k · 2^-24 · Σ|a||b| ≤ k² · 4 · 2^-24.
  const bound = k * k * 4 * 2 ** -24 + 1e-6;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > bound) {
      throw new Error(
        `[${batchDims}] ${m}×${k}×${n} tA=${transposeA} tB=${transposeB}: entry ${i} ${got[i]} vs ${want[i]}`,
      );
    }
  }
  tf.dispose([a, b, c]);
}

describe('batchMatMul on the wasm backend (WebAssembly SIMD kernel)', () => {
  test('runs the registered kernel for batched float32 products', () => {
    const before = tf.getKernel(BATCH_MATMUL_KERNEL, 'wasm');
    check([2], [3, 4, 5], false, false, 1);
    expect(before ?? tf.getKernel(BATCH_MATMUL_KERNEL, 'wasm')).toBeDefined();
  });

  test('all transpose combinations, column counts on and off the 8/4/1 paths, k on and off the vector width', () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [5, 3, 7],
      [25, 32, 25],
      [7, 33, 8],
      [4, 5, 12],
      [3, 64, 13],
      [9, 2, 17],
    ]) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) check([2, 3], [m, k, n], transposeA, transposeB, m * 31 + k);
      }
    }
  });

  test('matches the float64 definition on random shapes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
        fc.tuple(
          fc.integer({ min: 1, max: 20 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 20 }),
        ),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 1e6 }),
        (batchDims, dims, transposeA, transposeB, seed) =>
          check(batchDims, dims, transposeA, transposeB, seed),
      ),
      { numRuns: 60 },
    );
  });

  test('falls back to tf.matMul for batch 1, 2-D inputs and mismatched inner sizes (tfjs reports those)', () => {
    const a = tf.tensor(random(12, 3), [1, 3, 4]);
    const b = tf.tensor(random(8, 4), [1, 4, 2]);
    expect(batchMatMul(a, b).shape).toEqual([1, 3, 2]);
    expect(() => batchMatMul(tf.ones([2, 3, 4]), tf.ones([2, 5, 2]))).toThrow();
    tf.dispose([a, b]);
  });
});

describe('matmul and matmulTransposed gradients through the kernel', () => {
  test('equal tfjs autodiff of tf.matMul (batched, as attention uses them)', () => {
    const a = tf.tensor(random(2 * 3 * 5 * 7, 5), [2, 3, 5, 7]);
    const b = tf.tensor(random(2 * 3 * 7 * 6, 6), [2, 3, 7, 6]);
    const bt = tf.tensor(random(2 * 3 * 6 * 7, 7), [2, 3, 6, 7]);
    const weights = tf.tensor(random(2 * 3 * 5 * 6, 8), [2, 3, 5, 6]);
    const pairs: [
      (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
      (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
      tf.Tensor,
    ][] = [
      [matmul, (x, y) => tf.matMul(x, y), b],
      [matmulTransposed, (x, y) => tf.matMul(x, y, false, true), bt],
    ];
    for (const [ours, theirs, right] of pairs) {
      const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(f(x, y), weights));
      const got = tf.grads(loss(ours))([a, right]);
      const want = tf.grads(loss(theirs))([a, right]);
      for (let i = 0; i < 2; i++) {
        const g = got[i].dataSync();
        const w = want[i].dataSync();
        expect(got[i].shape).toEqual(want[i].shape);
        for (let j = 0; j < w.length; j++)
          expect(Math.abs(g[j] - w[j])).toBeLessThan(1e-4 * (1 + Math.abs(w[j])));
      }
      tf.dispose([...got, ...want]);
    }
    tf.dispose([a, b, bt, weights]);
  });
});

test('the checked-in module is what build-wasm.mjs assembles', () => {
  const script = fileURLToPath(new URL('build-wasm.mjs', import.meta.url));
  const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
});
