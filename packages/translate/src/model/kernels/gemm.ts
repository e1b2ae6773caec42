import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { GEMM_SHARED, GEMM_UNSHARED } from './gemm-bytes.js';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { type GemmPacked, kernelPool, pooledGemm, pooledGemmPacked, productThreads } from './kernel-pool.js';
import { appKernelReady } from './registration.js';

/** Name of the kernel registered with tfjs for the wasm backend. */
export const GEMM_KERNEL = 'ElTranslateBlockedMatMul';

/** Fewer output columns than this go to XNNPACK (see {@link blockedMatMul}). */
const MIN_COLUMNS = 64;

/** Shared-dimension block: kb × n floats of B (256 KiB at n = 512) stay in L2 while C is updated from them. */
const BLOCK = 128;

/**
 * From this many output columns up the packed product runs (gemm.wat's `gemmPacked`: 1.5–1.6× at n = 1,024 and
 * 2,048, 1.1–1.3× at 256–512); below, packing A costs about what it saves (0.9–1.0× at n = 64–128). Both give the
 * same values.
 */
const PACKED_MIN_COLUMNS = 256;

/** The packed product's row block: its packed A (mb × kb floats, 128 KiB) stays in L2 across the column panels. */
const ROW_BLOCK = 256;

/** Bytes of scratch per thread of the packed product: a row block of A and a panel of B, packed. */
const SCRATCH_BYTES = 4 * (ROW_BLOCK + 8) * BLOCK;

type Gemm = (a: number, b: number, c: number, m: number, k: number, n: number, kb: number) => void;

let packed = true;

/**
 * Turns the packed product off (every product of {@link blockedMatMul} reads its operands in place, gemm.wat's
 * `gemm`) or back on, process-wide. For measuring what packing buys (`node bench/run-speed.mjs gemm`); the values
 * are bit-identical either way.
 */
export function experimental_setPackedProduct(on: boolean): void {
  packed = on;
}

const MODULE = { unshared: GEMM_UNSHARED, shared: GEMM_SHARED };

/** Whether a product `n` columns wide runs packed (and so may read a transposed operand where it is). */
function packs(n: number): boolean {
  return packed && n >= PACKED_MIN_COLUMNS;
}

/** Whether the kernel runs here at all (else {@link blockedMatMul} is `tf.matMul`). */
function kernelRuns(): boolean {
  return (
    appKernelReady(GEMM_KERNEL) &&
    // With tfjs's threads and no pool of our own, XNNPACK splits a product between them; this kernel would use one.
    (getThreadsCount() === 1 || kernelPool() !== undefined)
  );
}

/**
 * Whether {@link blockedMatMul} reads a transposed operand in place for a float32 product `n` columns wide (else it
 * transposes it first: a caller that multiplies by the same transpose again may rather keep one).
 */
export function readsTransposedInPlace(n: number): boolean {
  return n % 8 === 0 && packs(n) && kernelRuns();
}

const kernelFunc: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const n = transposeB ? b.shape[0] : b.shape[1];
  const out = backend.makeOutput([m, n], 'float32');
  const memory = heapMemory(backend);
  // The module instantiated on the backend's own memory: operands read and the product written in place.
  const kernels = heapModule<{ gemm: Gemm; gemmPacked: GemmPacked }>(MODULE, memory);
  const [ao, bo, co] = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)];
  // A stored transpose always takes the packed product, at any width: only its packing reads one where it lies.
  if (!packs(n) && !transposeA && !transposeB) {
    pooledGemm(memory, kernels.gemm, ao, bo, co, m, k, n, BLOCK);
    return out;
  }
  // Scratch from tfjs's own allocator (one region per thread, 16-byte aligned), freed as soon as the product is done.
  const threads = productThreads(memory);
  const scratch = backend.makeOutput([(threads * SCRATCH_BYTES + 16) / 4], 'float32');
  try {
    const base = (heapOffset(backend, scratch) + 15) & ~15;
    const trans = (transposeA ? 1 : 0) | (transposeB ? 2 : 0);
    const [lda, ldb] = [a.shape[1], b.shape[1]];
    pooledGemmPacked(
      memory,
      kernels.gemmPacked,
      ao,
      bo,
      co,
      m,
      k,
      n,
      lda,
      ldb,
      trans,
      BLOCK,
      ROW_BLOCK,
      base,
      SCRATCH_BYTES,
    );
  } finally {
    backend.disposeData(scratch.dataId);
  }
  return out;
};

/** {@link blockedMatMul}'s kernel for tfjs-backend-wasm, registered by `registerAppKernels` (register-all.ts). */
export const gemmConfig: tf.KernelConfig = { kernelName: GEMM_KERNEL, backendName: 'wasm', kernelFunc };

/**
 * `op(a) @ op(b)` for 2-D float32 `a` `[m, k]` (`[k, m]` with `transposeA`) and `b` `[k, n]` (`[n, k]` with
 * `transposeB`): on the wasm backend with n ≥ 64 a multiple of 8, a WebAssembly SIMD kernel blocked along k
 * (`gemm.wat`; from 256 columns with both operands packed, where a transposed operand is read in place — dW = dyᵀ·x
 * and x·Wᵀ without a transposed copy — and below, after an explicit transpose), split over the kernel pool's threads
 * when `initBackend` started one (`kernel-pool.ts`: the same values on any number of threads); anywhere else
 * `tf.matMul` of explicit transposes (XNNPACK on wasm, which runs its own transpose flags ~15× slower). On one
 * thread (`node bench/run-speed.mjs gemm`, docs/performance.md) it runs at 15–26 GFLOP/s on a training step's
 * shapes, XNNPACK at 12–22 with its right operand already packed and 7–20 when it packs a new one — every weight
 * after each optimizer step — and 2–3× XNNPACK's speed with a long shared dimension (the output projection's
 * dh = G·W, k = 58101 at OPUS-MT), where XNNPACK streams its operands from memory for every tile. The sums run over
 * l in order, as XNNPACK's do, so the values do not depend on the flags. Not differentiable by itself.
 */
export function blockedMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA = false,
  transposeB = false,
): tf.Tensor2D {
  const k = a.shape[transposeA ? 0 : 1];
  const n = b.shape[transposeB ? 0 : 1] ?? 0;
  const runs =
    a.rank === 2 &&
    b.rank === 2 &&
    k === b.shape[transposeB ? 1 : 0] &&
    n % 8 === 0 &&
    // A skinny product (decoding's logits (W·hᵀ)ᵀ: 8–40 columns against 58,101 rows at OPUS-MT base) runs faster
    // on XNNPACK: 29 against 54 ms at 8 columns, 111 against 118 at 40 (`node bench/run-speed.mjs gemm`).
    n >= MIN_COLUMNS &&
    a.size > 0 &&
    b.size > 0 &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    kernelRuns();
  // Only the packed product reads a stored transpose (its packing copies the operand anyway); below its width a
  // transpose first is as fast (the kernel itself takes one at any width: see kernelFunc).
  if (runs && ((!transposeA && !transposeB) || readsTransposedInPlace(n))) {
    return tf.engine().runKernel(GEMM_KERNEL, { a, b }, { transposeA, transposeB }) as tf.Tensor2D;
  }
  if (!transposeA && !transposeB) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  return tf.tidy(() => blockedMatMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b));
}

/**
 * Σ over the rows of `x` `[N, n]`: each column summed in row order in float32, the bits of `tf.sum(x, 0)` (which
 * tfjs-backend-wasm computes as a transpose and then a sum per row), as the product `1ᵀ·x` where
 * {@link blockedMatMul}'s kernel runs (n ≥ 64 a multiple of 8; its sums run over the rows in order on any number of
 * threads) — 2–6× faster at a training step's shapes (`[2000, 128]`: 0.08 against 0.48 ms) — and `tf.sum` elsewhere.
 * A linear layer's bias gradient.
 */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  const [rows, n] = x.shape;
  if (x.dtype !== 'float32' || rows === 0 || n % 8 !== 0 || n < MIN_COLUMNS || !kernelRuns())
    return tf.sum(x, 0);
  return tf.tidy(() => tf.reshape(blockedMatMul(tf.ones([1, rows]), x), [n]));
}
