import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { blockedMatMul, GEMM_KERNEL } from './gemm.js';
import { GEMM_SHARED, GEMM_UNSHARED } from './gemm-bytes.js';
import { experimental_setAppKernels } from './switch.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

/** A·B in float64 from the definition, and Σ|a||b| per entry (the scale of its float32 rounding error). */
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number) {
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++)
      for (let l = 0; l < k; l++) {
        c[i * n + j] += a[i * k + l] * b[l * n + j];
        scale[i * n + j] += Math.abs(a[i * k + l] * b[l * n + j]);
      }
  return { c, scale };
}

/** Every entry within k float32 roundings of the exact sum (a sequential float32 sum's bound, plus one). */
function expectProduct(
  got: ArrayLike<number>,
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
) {
  const { c, scale } = reference(a, b, m, k, n);
  expect(got.length).toBe(m * n);
  for (let i = 0; i < c.length; i++) {
    expect(Math.abs(got[i] - c[i])).toBeLessThanOrEqual((k + 1) * 2 ** -24 * scale[i] + 1e-30);
  }
}

const shape = fc.record({
  m: fc.integer({ min: 1, max: 11 }), // 4-row tiles and the rows left over
  k: fc.integer({ min: 1, max: 300 }), // below, at and across the 128-long blocks
  n: fc.integer({ min: 8, max: 40 }).map((x) => 8 * x), // the kernel takes n ≥ 64; packed from 256

  seed: fc.integer({ min: 0, max: 10_000 }),
});

test('blockedMatMul on the wasm heap equals the float64 product for any m, k and n a multiple of 8', () => {
  fc.assert(
    fc.property(shape, ({ m, k, n, seed }) => {
      tf.tidy(() => {
        const a = tf.randomNormal([m, k], 0, 1, 'float32', seed);
        const b = tf.randomNormal([k, n], 0, 1, 'float32', seed + 1);
        const c = blockedMatMul(a, b);
        expect(tf.getKernel(GEMM_KERNEL, 'wasm')).toBeDefined(); // registered on first use
        expectProduct(c.dataSync(), a.dataSync() as Float32Array, b.dataSync() as Float32Array, m, k, n);
        const direct = tf.engine().runKernel(GEMM_KERNEL, { a, b }) as tf.Tensor;
        expect(Array.from(direct.dataSync())).toEqual(Array.from(c.dataSync()));
      });
    }),
    { numRuns: 60 },
  );
});

test('the packed product (n ≥ 256) is exact across row blocks of 256 and the rows left over', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 250, max: 400 }),
      fc.integer({ min: 1, max: 260 }),
      fc.integer({ min: 32, max: 40 }).map((x) => 8 * x),
      fc.integer({ min: 0, max: 10_000 }),
      (m, k, n, seed) => {
        tf.tidy(() => {
          const a = tf.randomNormal([m, k], 0, 1, 'float32', seed);
          const b = tf.randomNormal([k, n], 0, 1, 'float32', seed + 1);
          expectProduct(
            blockedMatMul(a, b).dataSync(),
            a.dataSync() as Float32Array,
            b.dataSync() as Float32Array,
            m,
            k,
            n,
          );
        });
      },
    ),
    { numRuns: 4 },
  );
});

type Kernels = {
  gemm: (...args: number[]) => void;
  gemmPacked: (...args: number[]) => void;
};

/** gemm.wat's two exports on a fresh memory of `pages` 64 KiB pages. */
function standalone(pages: number) {
  const memory = new WebAssembly.Memory({ initial: pages });
  const bytes = Uint8Array.from(atob(GEMM_UNSHARED), (c) => c.charCodeAt(0));
  const kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports as Kernels;
  return { memory, ...kernels };
}

// What lets gemm.ts choose between the two by speed alone, and the pool split rows or columns anywhere: the same
// bits. Also with either operand stored transposed (dW = dyᵀ·x, x·Wᵀ): the packing reads it where it is.
test('gemmPacked has the bits of gemm for any shape, layout, row block, block length and row or column range', () => {
  const { memory, gemm, gemmPacked } = standalone(64);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 12 }).map((x) => 8 * x),
      fc.integer({ min: 1, max: 20 }).map((x) => 4 * x), // row block
      fc.constantFrom(4, 8, 128, 132), // shared-dimension block
      fc.constantFrom(0, 1, 2, 3), // which operands are stored transposed
      fc.integer({ min: 0, max: 10_000 }),
      (m, k, n, mb, kb, trans, seed) => {
        const heap = new Float32Array(memory.buffer);
        // A [m, k], B [k, n], then A's and B's transposes, then two Cs.
        const [a, b, at, bt] = [0, m * k, m * k + k * n, 2 * m * k + k * n];
        const [c1, c2] = [2 * (m * k + k * n), 2 * (m * k + k * n) + m * n];
        const scratch = 4 * Math.ceil((c2 + m * n) / 4) * 4;
        let x = seed;
        for (let i = 0; i < at; i++) {
          x = (x * 1103515245 + 12345) % 2 ** 31;
          heap[i] = x / 2 ** 30 - 1;
        }
        for (let i = 0; i < m; i++) for (let l = 0; l < k; l++) heap[at + l * m + i] = heap[a + i * k + l];
        for (let l = 0; l < k; l++) for (let j = 0; j < n; j++) heap[bt + j * k + l] = heap[b + l * n + j];
        heap.fill(Number.NaN, c1, c2 + m * n); // each kernel clears C itself
        gemm(4 * a, 4 * b, 4 * c1, m, k, n, kb);
        const [ap, lda] = trans & 1 ? [at, m] : [a, k];
        const [bp, ldb] = trans & 2 ? [bt, k] : [b, n];
        gemmPacked(4 * ap, 4 * bp, 4 * c2, m, k, n, lda, ldb, n, trans, kb, mb, scratch);
        const bits = new Uint32Array(memory.buffer);
        const packed = bits.subarray(c2, c2 + m * n);
        expect(packed.findIndex((v, i) => v !== bits[c1 + i])).toBe(-1);
        // The same product in two column ranges (C's rows n apart), as a pool splits a wide C.
        const left = 8 * (seed % (n / 8));
        const bRight = trans & 2 ? bp + left * k : bp + left;
        heap.fill(Number.NaN, c2, c2 + m * n);
        gemmPacked(4 * ap, 4 * bp, 4 * c2, m, k, left, lda, ldb, n, trans, kb, mb, scratch);
        gemmPacked(4 * ap, 4 * bRight, 4 * (c2 + left), m, k, n - left, lda, ldb, n, trans, kb, mb, scratch);
        expect(packed.findIndex((v, i) => v !== bits[c1 + i])).toBe(-1);
        // And in two row ranges, as a pool splits a tall C.
        const top = 4 * (seed % Math.ceil(m / 4));
        const aLow = trans & 1 ? ap + top : ap + top * k;
        heap.fill(Number.NaN, c2, c2 + m * n);
        gemmPacked(4 * ap, 4 * bp, 4 * c2, top, k, n, lda, ldb, n, trans, kb, mb, scratch);
        gemmPacked(4 * aLow, 4 * bp, 4 * (c2 + top * n), m - top, k, n, lda, ldb, n, trans, kb, mb, scratch);
        expect(packed.findIndex((v, i) => v !== bits[c1 + i])).toBe(-1);
      },
    ),
    { numRuns: 200 },
  );
});

test('a transposed operand gives the bits of the product of its transpose, packed (read in place) or not', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 200 }),
      // below 64 columns (XNNPACK), 64–248 (the in-place kernel after a transpose), from 256 (packed), not × 8
      fc.oneof(
        fc.integer({ min: 1, max: 48 }).map((x) => 8 * x),
        fc.integer({ min: 1, max: 300 }),
      ),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 10_000 }),
      (m, k, n, ta, tb, seed) => {
        tf.tidy(() => {
          const a = tf.randomNormal([m, k], 0, 1, 'float32', seed);
          const b = tf.randomNormal([k, n], 0, 1, 'float32', seed + 1);
          const plain = new Uint32Array(blockedMatMul(a, b).dataSync().buffer.slice(0));
          const got = blockedMatMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b, ta, tb);
          expect(got.shape).toEqual([m, n]);
          const bits = new Uint32Array(got.dataSync().buffer.slice(0));
          expect(bits.findIndex((v, i) => v !== plain[i])).toBe(-1);
        });
      },
    ),
    { numRuns: 60 },
  );
});

test('a transposed operand is read in place from 256 columns (one kernel), transposed first below', async () => {
  const x = tf.randomNormal([40, 64], 0, 1, 'float32', 1);
  const dy = tf.randomNormal([40, 320], 0, 1, 'float32', 2);
  const cases: [() => tf.Tensor, string[]][] = [
    [() => blockedMatMul(x, tf.randomNormal([256, 64]), false, true), [GEMM_KERNEL]], // x·Wᵀ, W [256, 64]
    [() => blockedMatMul(x, dy, true, false), [GEMM_KERNEL]], // dW = xᵀ·dy, 320 columns
    [() => blockedMatMul(x, tf.randomNormal([128, 64]), false, true), ['Transpose', GEMM_KERNEL]],
  ];
  for (const [product, kernels] of cases) {
    const w = tf.tidy(() => product()); // the operands' own kernels (RandomNormal) are not profiled below
    w.dispose();
    const info = await tf.profile(() => tf.tidy(product));
    expect(
      info.kernelNames.filter((name) => name !== 'RandomStandardNormal' && name !== 'RandomNormal'),
    ).toEqual(kernels);
  }
  tf.dispose([x, dy]);
});

test('the kernel itself reads a stored transpose at any width (64–248 columns: packed, not refused)', () => {
  // blockedMatMul transposes first below 256 columns; a direct runKernel with the flags must still be right.
  for (const [m, k, n, transposeA, transposeB] of [
    [40, 64, 64, true, false],
    [37, 129, 128, false, true],
    [5, 300, 248, true, true],
  ] as const) {
    tf.tidy(() => {
      const a = tf.randomNormal([m, k], 0, 1, 'float32', m);
      const b = tf.randomNormal([k, n], 0, 1, 'float32', n);
      const plain = new Uint32Array(blockedMatMul(a, b).dataSync().buffer.slice(0));
      const got = tf
        .engine()
        .runKernel(
          GEMM_KERNEL,
          { a: transposeA ? tf.transpose(a) : a, b: transposeB ? tf.transpose(b) : b },
          { transposeA, transposeB },
        ) as tf.Tensor;
      expect(got.shape).toEqual([m, n]);
      const bits = new Uint32Array(got.dataSync().buffer.slice(0));
      expect(bits.findIndex((v, i) => v !== plain[i])).toBe(-1);
    });
  }
});

test('a long shared dimension (the output projection: k = 58101 classes, several blocks) stays exact', () => {
  tf.tidy(() => {
    const [m, k, n] = [6, 58_101, 64];
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 7);
    const b = tf.randomNormal([k, n], 0, 0.05, 'float32', 8);
    expectProduct(
      blockedMatMul(a, b).dataSync(),
      a.dataSync() as Float32Array,
      b.dataSync() as Float32Array,
      m,
      k,
      n,
    );
  });
});

test('shapes the kernel does not take (n not a multiple of 8, n < 64, app kernels off) fall back to tf.matMul', () => {
  tf.tidy(() => {
    const a = tf.randomNormal([5, 9], 0, 1, 'float32', 1);
    const b = tf.randomNormal([9, 12], 0, 1, 'float32', 2);
    expect(Array.from(blockedMatMul(a, b).dataSync())).toEqual(Array.from(tf.matMul(a, b).dataSync()));
    const skinny = tf.randomNormal([9, 56], 0, 1, 'float32', 4);
    expect(Array.from(blockedMatMul(a, skinny).dataSync())).toEqual(
      Array.from(tf.matMul(a, skinny).dataSync()),
    );
    const b8 = tf.randomNormal([9, 16], 0, 1, 'float32', 3);
    experimental_setAppKernels(false);
    try {
      const plain = blockedMatMul(a, b8).dataSync();
      expectProduct(plain, a.dataSync() as Float32Array, b8.dataSync() as Float32Array, 5, 9, 16);
    } finally {
      experimental_setAppKernels(true);
    }
  });
});

test('the kernel runs from 64 columns on; a skinny product (decoding logits) goes to XNNPACK', async () => {
  const a = tf.randomNormal([16, 32], 0, 1, 'float32', 5);
  for (const [n, kernel] of [
    [56, 'BatchMatMul'],
    [64, GEMM_KERNEL],
  ] as const) {
    const b = tf.randomNormal([32, n], 0, 1, 'float32', 6);
    const info = await tf.profile(() => blockedMatMul(a, b));
    expect(info.kernelNames).toEqual([kernel]);
    b.dispose();
  }
  a.dispose();
});

// The module as tfjs-backend-wasm's threaded build would run it: on a shared memory.
test('the shared-memory variant computes the same product', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  const bytes = Uint8Array.from(atob(GEMM_SHARED), (c) => c.charCodeAt(0));
  const { gemm, gemmPacked } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports as Kernels;
  const unshared = Uint8Array.from(atob(GEMM_UNSHARED), (c) => c.charCodeAt(0));
  expect(WebAssembly.validate(unshared)).toBe(true);
  const [m, k, n] = [5, 200, 16];
  const heap = new Float32Array(memory.buffer);
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i / 3));
  heap.set(a, 0);
  heap.set(b, m * k);
  heap.fill(Number.NaN, m * k + k * n, m * k + k * n + m * n); // the kernel clears C itself
  const c = m * k + k * n;
  gemm(0, 4 * m * k, 4 * c, m, k, n, 128);
  expectProduct(heap.subarray(c, c + m * n), a, b, m, k, n);
  heap.fill(Number.NaN, c, c + m * n);
  gemmPacked(0, 4 * m * k, 4 * c, m, k, n, k, n, n, 0, 128, 4, 4 * (c + m * n));
  expectProduct(heap.subarray(c, c + m * n), a, b, m, k, n);
});
