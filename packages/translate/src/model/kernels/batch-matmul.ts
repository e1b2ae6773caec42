import * as tf from '@tensorflow/tfjs-core';
import { BATCH_MATMUL_SHARED, BATCH_MATMUL_UNSHARED } from './batch-matmul-bytes.js';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { pooledBmm } from './kernel-pool.js';
import { appKernelReady } from './registration.js';

/** Name of the kernel registered with tfjs for the wasm backend. */
export const BATCH_MATMUL_KERNEL = 'ElTranslateBatchMatMul';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

type Bmm = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  aRow: number,
  aCol: number,
  bRow: number,
  bCol: number,
) => void;

const MODULE = { unshared: BATCH_MATMUL_UNSHARED, shared: BATCH_MATMUL_SHARED };

const kernelFunc: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  const rank = a.shape.length;
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const out = backend.makeOutput([...a.shape.slice(0, rank - 2), m, n], 'float32');
  const memory = heapMemory(backend);
  // The kernel module instantiated on the backend's own memory (tensors are read and written in place).
  const bmm = heapModule<{ bmm: Bmm }>(MODULE, memory).bmm;
  const [ao, bo, co] = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)];
  const strides = [
    transposeA ? 1 : aCols,
    transposeA ? aCols : 1,
    transposeB ? 1 : bCols,
    transposeB ? bCols : 1,
  ] as const;
  pooledBmm(memory, bmm, ao, bo, co, batch, m, k, n, strides);
  return out;
};

/** {@link batchMatMul}'s kernel for tfjs-backend-wasm, registered by `registerAppKernels` (register-all.ts). */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: BATCH_MATMUL_KERNEL,
  backendName: 'wasm',
  kernelFunc,
};

/**
 * `op(a) @ op(b)` over leading batch dimensions, `op` a transpose of the last two axes when asked: `a`
 * `[...batch, m, k]` (or `[..., k, m]`), `b` `[...batch, k, n]` (or `[..., n, k]`), the same batch dimensions
 * (no broadcasting), float32. On the wasm backend with a batch above 1 it runs a WebAssembly SIMD kernel on the
 * backend's heap (no copies, no transposes): tfjs-backend-wasm 4.22 sends such products to a scalar loop. Anywhere
 * else it is `tf.matMul`. No gradient of its own: {@link matmul} in `../matmul.ts` defines it through this op.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const batch = a.shape.slice(0, -2);
  const k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const kB = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  if (
    k === kB &&
    a.rank >= 3 &&
    a.rank === b.rank &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    batch.every((d, i) => d === b.shape[i]) &&
    batch.reduce((x, y) => x * y, 1) > 1 &&
    appKernelReady(BATCH_MATMUL_KERNEL)
  ) {
    const attrs: BatchMatMulAttrs = { transposeA, transposeB };
    return tf
      .engine()
      .runKernel(BATCH_MATMUL_KERNEL, { a, b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return tf.matMul(a, b, transposeA, transposeB);
}
