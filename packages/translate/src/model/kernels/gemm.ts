import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { GEMM_SHARED, GEMM_UNSHARED } from './gemm-bytes.js';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { kernelPool, pooledGemm } from './kernel-pool.js';
import { appKernelReady } from './registration.js';

/** Name of the kernel registered with tfjs for the wasm backend. */
export const GEMM_KERNEL = 'ElTranslateBlockedMatMul';

/** Fewer output columns than this go to XNNPACK (see {@link blockedMatMul}). */
const MIN_COLUMNS = 64;

/** Shared-dimension block: kb × n floats of B (256 KiB at n = 512) stay in L2 while C is updated from them. */
const BLOCK = 128;

type Gemm = (a: number, b: number, c: number, m: number, k: number, n: number, kb: number) => void;

const MODULE = { unshared: GEMM_UNSHARED, shared: GEMM_SHARED };

const kernelFunc: tf.KernelFunc = ({ inputs, backend: kernelBackend }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const [m, k] = a.shape;
  const n = b.shape[1];
  const out = backend.makeOutput([m, n], 'float32');
  const memory = heapMemory(backend);
  // The module instantiated on the backend's own memory: operands read and the product written in place.
  const gemm = heapModule<{ gemm: Gemm }>(MODULE, memory).gemm;
  const [ao, bo, co] = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)];
  pooledGemm(memory, gemm, ao, bo, co, m, k, n, BLOCK);
  return out;
};

/** {@link blockedMatMul}'s kernel for tfjs-backend-wasm, registered by `registerAppKernels` (register-all.ts). */
export const gemmConfig: tf.KernelConfig = { kernelName: GEMM_KERNEL, backendName: 'wasm', kernelFunc };

/**
 * `a @ b` for 2-D float32 `a` `[m, k]` and `b` `[k, n]`: on the wasm backend with n ≥ 64 a multiple of 8, a WebAssembly
 * SIMD kernel blocked along k (`gemm.wat`), its rows split over the kernel pool's threads when `initBackend` started
 * one (`kernel-pool.ts`: the same values on any number of threads); anywhere else `tf.matMul` (XNNPACK on wasm). On the
 * training step's shapes (`node bench/run-speed.mjs gemm`) it runs at 24–30 GFLOP/s, XNNPACK at 13–27 with its right
 * operand already packed and 9–24 when it packs a new one — every weight after each optimizer step — and it is
 * 2–3× faster with a long shared dimension (the output projection's dh = G·W, k = 58101 at OPUS-MT), where XNNPACK
 * streams its operands from memory for every tile. The sums run over l in order, as XNNPACK's do. Not
 * differentiable by itself.
 */
export function blockedMatMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  if (
    a.rank === 2 &&
    b.rank === 2 &&
    a.shape[1] === b.shape[0] &&
    (b.shape[1] ?? 0) % 8 === 0 &&
    // A skinny product (decoding's logits (W·hᵀ)ᵀ: 8–40 columns against 58,101 rows at OPUS-MT base) runs faster
    // on XNNPACK: 29 against 54 ms at 8 columns, 111 against 118 at 40 (`node bench/run-speed.mjs gemm`).
    (b.shape[1] ?? 0) >= MIN_COLUMNS &&
    a.size > 0 &&
    b.size > 0 &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    appKernelReady(GEMM_KERNEL) &&
    // With tfjs's threads and no pool of our own, XNNPACK splits a product between them; this kernel would use one.
    (getThreadsCount() === 1 || kernelPool() !== undefined)
  ) {
    return tf.engine().runKernel(GEMM_KERNEL, { a, b }) as tf.Tensor2D;
  }
  return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
}
