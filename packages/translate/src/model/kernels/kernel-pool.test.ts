import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterEach, beforeAll, expect, onTestFinished, test } from 'vitest';
import { initNodeBackend } from '../../node/backend-node.js';
import { spawnNodeKernelWorker } from '../../node/kernel-worker.js';
import { Rng } from '../../rng.js';
import { batchMatMul } from './batch-matmul.js';
import { blockedMatMul } from './gemm.js';
import { heapMemory, type WasmHeapBackend } from './heap-module.js';
import { KernelPool, kernelPool, setKernelPool } from './kernel-pool.js';

// tfjs-backend-wasm's threaded build (a shared heap) with the app kernels' pool, in its own process.
let started: KernelPool | undefined;
beforeAll(async () => {
  expect(await initNodeBackend('wasm', { threads: 2 })).toBe('wasm');
  started = kernelPool();
});
afterEach(() => setKernelPool(started));

function memory(): WebAssembly.Memory {
  return heapMemory(tf.backend() as unknown as WasmHeapBackend);
}

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => rng.next() * 2 - 1),
    shape,
  );
}

/** The product's bits with the pool installed and with the calling thread alone. */
function bothWays(product: () => tf.Tensor): [Uint32Array, Uint32Array] {
  const pooled = product();
  const pool = kernelPool();
  setKernelPool(undefined);
  const alone = product();
  setKernelPool(pool);
  const bits = (t: tf.Tensor) => new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
  const result: [Uint32Array, Uint32Array] = [bits(pooled), bits(alone)];
  tf.dispose([pooled, alone]);
  return result;
}

test('initNodeBackend with two threads starts a pool of two on the shared heap', () => {
  expect(started?.threads).toBe(2);
  expect(started?.runsOn(memory())).toBe(true);
});

test('a product split over the pool has the bits of the one-thread product, at any row count', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 700 }),
      fc.integer({ min: 8, max: 40 }).map((x) => 8 * x), // n ≥ 64: the blocked kernel
      fc.integer(),
      (m, k, n, seed) => {
        const a = randomTensor([m, k], seed);
        const b = randomTensor([k, n], seed + 1);
        const [pooled, alone] = bothWays(() => blockedMatMul(a, b));
        tf.dispose([a, b]);
        expect(pooled).toEqual(alone);
      },
    ),
    { numRuns: 40 },
  );
});

test('the pooled product is the product (float64 reference, float32 rounding bound)', () => {
  const [m, k, n] = [203, 517, 64];
  expect(m * k * n).toBeGreaterThan(2 ** 20); // large enough to be split
  const a = randomTensor([m, k], 11);
  const b = randomTensor([k, n], 12);
  const got = blockedMatMul(a, b).dataSync();
  const av = a.dataSync();
  const bv = b.dataSync();
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let l = 0; l < k; l++) {
        s += av[i * k + l] * bv[l * n + j];
        abs += Math.abs(av[i * k + l] * bv[l * n + j]);
      }
      worst = Math.max(worst, Math.abs(got[i * n + j] - s) / (abs * k * 2 ** -24));
    }
  }
  // Each sum's error is within k roundings of its absolute terms (the standard bound, γ_k).
  expect(worst).toBeLessThan(1);
  tf.dispose([a, b]);
});

test('the packed product (n ≥ 256, a scratch region per thread; operands transposed or not) split over a pool of three has the one-thread bits', () => {
  const three = KernelPool.create(memory(), 3, (source) => {
    const worker = spawnNodeKernelWorker(source);
    worker.unref?.();
    return worker;
  });
  setKernelPool(three);
  onTestFinished(() => three?.close());
  for (const [m, k, n, seed] of [
    [300, 200, 1024, 1],
    [261, 129, 256, 2],
    [60, 600, 512, 3],
  ]) {
    const a = randomTensor([m, k], seed);
    const b = randomTensor([k, n], seed + 1);
    // Threads sharing one scratch would overwrite each other's packed panels: the bits would differ. (The first
    // differing entry, not a diff of 300k numbers, is what a failure prints.)
    const [, alone] = bothWays(() => blockedMatMul(a, b));
    for (let round = 0; round < 3; round++) {
      const [pooled] = bothWays(() => blockedMatMul(a, b));
      expect(pooled.findIndex((bits, i) => bits !== alone[i])).toBe(-1);
    }
    // Operands stored transposed (dW = dyᵀ·x, x·Wᵀ): each thread's chunk starts at its columns of Aᵀ or rows of Bᵀ.
    const [at, bt] = [tf.transpose(a), tf.transpose(b)];
    for (const [ta, tb] of [
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const [pooled, one] = bothWays(() => blockedMatMul(ta ? at : a, tb ? bt : b, ta, tb));
      expect(pooled.findIndex((bits, i) => bits !== alone[i])).toBe(-1);
      expect(one.findIndex((bits, i) => bits !== alone[i])).toBe(-1);
    }
    tf.dispose([a, b, at, bt]);
  }
});

test('a batched product split by batch items has the bits of the one-thread product, transposed or not', () => {
  for (const [transposeA, transposeB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ]) {
    const [batch, m, k, n] = [24, 37, 64, 45];
    const a = randomTensor(transposeA ? [4, 6, k, m] : [4, 6, m, k], 3);
    const b = randomTensor(transposeB ? [4, 6, n, k] : [4, 6, k, n], 4);
    expect(batch * m * k * n).toBeGreaterThan(2 ** 20);
    const [pooled, alone] = bothWays(() => batchMatMul(a, b, transposeA, transposeB));
    const reference = tf.matMul(a, b, transposeA, transposeB);
    const close = tf.max(
      tf.abs(tf.sub(tf.tensor(new Float32Array(pooled.buffer), reference.shape), reference)),
    );
    expect(close.dataSync()[0]).toBeLessThan(1e-4);
    expect(pooled).toEqual(alone);
    tf.dispose([a, b, reference, close]);
  }
});

test('a chunk a worker fails to compute is computed again by the caller: same bits', async () => {
  // Workers whose kernel call traps on every chunk they claim.
  const broken = KernelPool.create(memory(), 3, (source) => {
    const worker = spawnNodeKernelWorker(
      source.replace('run(kernels, c[', 'throw new Error("trap"); run(kernels, c['),
    );
    worker.unref?.();
    return worker;
  });
  expect(broken?.threads).toBe(3);
  setKernelPool(broken);
  onTestFinished(() => broken?.close());
  const a = randomTensor([400, 300], 5);
  const b = randomTensor([300, 64], 6);
  // The caller may claim every chunk before a worker wakes: repeat until the workers have claimed (and failed) some.
  for (let round = 0; round < 200 && (broken?.recomputedChunks ?? 0) === 0; round++) {
    const [pooled, alone] = bothWays(() => blockedMatMul(a, b));
    expect(pooled).toEqual(alone);
  }
  expect(broken?.recomputedChunks).toBeGreaterThan(0);
  tf.dispose([a, b]);
});

test('no pool on an unshared memory or for one thread', () => {
  const spawn = () => {
    throw new Error('must not spawn');
  };
  expect(KernelPool.create(new WebAssembly.Memory({ initial: 1 }), 2, spawn)).toBeUndefined();
  expect(KernelPool.create(memory(), 1, spawn)).toBeUndefined();
});
