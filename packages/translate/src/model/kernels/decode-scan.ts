import * as tf from '@tensorflow/tfjs-core';
import { DECODE_SHARED, DECODE_UNSHARED } from './decode-scan-bytes.js';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { appKernelReady } from './registration.js';

/** Names of the kernels registered with tfjs for the wasm backend. */
export const DECODE_SCAN_KERNEL = 'ElTranslateDecodeScan';
export const GATHER_ROWS_KERNEL = 'ElTranslateGatherRows';
export const APPEND_CACHE_KERNEL = 'ElTranslateAppendCache';

interface DecodeModule {
  scan(x: number, rows: number, vocab: number, k: number, skip: number, out: number): void;
  gather(src: number, rows: number, n: number, rowBytes: number, dst: number): void;
  append(
    cache: number,
    rows: number,
    n: number,
    heads: number,
    t: number,
    headBytes: number,
    fresh: number,
    dst: number,
  ): void;
}

const MODULE = { unshared: DECODE_UNSHARED, shared: DECODE_SHARED };

/** The module instantiated on the backend's own memory (tensors are read and written in place). */
function moduleFor(backend: WasmHeapBackend): DecodeModule {
  return heapModule<DecodeModule>(MODULE, heapMemory(backend));
}

/** Bytes of one row of the scan's output: k logits, k ids, the maximum, the count, Σ exp (float64). */
const scanRowBytes = (k: number) => 8 * k + 16;

const scanKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { logits } = inputs as { logits: tf.TensorInfo };
  const { k, skip } = attrs as unknown as { k: number; skip: number };
  const [rows, vocab] = logits.shape;
  const out = backend.makeOutput([rows, scanRowBytes(k) / 4], 'float32');
  moduleFor(backend).scan(heapOffset(backend, logits), rows, vocab, k, skip, heapOffset(backend, out));
  return out;
};

const gatherKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { x, rows } = inputs as { x: tf.TensorInfo; rows: tf.TensorInfo };
  const n = rows.shape[0];
  const rowBytes = (4 * x.shape.slice(1).reduce((a, b) => a * b, 1)) | 0;
  const out = backend.makeOutput([n, ...x.shape.slice(1)], 'float32');
  moduleFor(backend).gather(
    heapOffset(backend, x),
    heapOffset(backend, rows),
    n,
    rowBytes,
    heapOffset(backend, out),
  );
  return out;
};

const appendKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { cache, fresh, rows } = inputs as {
    cache: tf.TensorInfo;
    fresh: tf.TensorInfo;
    rows?: tf.TensorInfo;
  };
  const [n, heads, , headDim] = fresh.shape;
  const t = cache.shape[2];
  const out = backend.makeOutput([n, heads, t + 1, headDim], 'float32');
  moduleFor(backend).append(
    heapOffset(backend, cache),
    rows ? heapOffset(backend, rows) : 0,
    n,
    heads,
    t,
    4 * headDim,
    heapOffset(backend, fresh),
    heapOffset(backend, out),
  );
  return out;
};

/** The decoder's kernels for tfjs-backend-wasm, registered by `registerAppKernels` (register-all.ts). */
export const decodeScanConfig: tf.KernelConfig = {
  kernelName: DECODE_SCAN_KERNEL,
  backendName: 'wasm',
  kernelFunc: scanKernel,
};
export const gatherRowsConfig: tf.KernelConfig = {
  kernelName: GATHER_ROWS_KERNEL,
  backendName: 'wasm',
  kernelFunc: gatherKernel,
};
export const appendCacheConfig: tf.KernelConfig = {
  kernelName: APPEND_CACHE_KERNEL,
  backendName: 'wasm',
  kernelFunc: appendKernel,
};

/**
 * The best tokens of each row of a logit matrix, as log-probabilities: what a beam search needs from one decoder
 * step, without the `[N, V]` log-softmax or its read-back. Row r lists `counts[r]` tokens at `r·k …`, best first.
 */
export interface TopLogProbs {
  /** Capacity per row. */
  k: number;
  /** Tokens listed per row: k, or fewer when the row has fewer candidates. */
  counts: Int32Array;
  /** Token ids `[N, k]`. */
  tokens: Int32Array;
  /** log softmax(logits)[token] `[N, k]`, in float64. */
  logProbs: Float64Array;
}

/**
 * The k largest logits of each row of `logits` `[N, V]` (ids in order of logit, the lower id first among equal
 * ones; id `skip` never listed), as log-probabilities x − m − log Σ_v exp(x_v − m), m the row maximum (every id,
 * `skip` included, counts in the normalisation). On the wasm backend one WebAssembly SIMD pass finds m and the
 * list, a second one sums the exponentials (float32 exp, relative error ~1e-7, summed in float64); only the
 * `[N, 2k + 4]` result is read back. Elsewhere the same computation runs in JS on the read-back logits.
 */
export function topLogProbs(logits: tf.Tensor2D, k: number, skip: number): TopLogProbs {
  const [rows, vocab] = logits.shape;
  const counts = new Int32Array(rows);
  const tokens = new Int32Array(rows * k);
  const logProbs = new Float64Array(rows * k);
  if (logits.dtype === 'float32' && appKernelReady(DECODE_SCAN_KERNEL)) {
    const out = tf
      .engine()
      .runKernel(DECODE_SCAN_KERNEL, { logits }, { k, skip } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const data = out.dataSync() as Float32Array;
    out.dispose();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    const view = new DataView(bytes.buffer);
    const stride = scanRowBytes(k);
    for (let r = 0; r < rows; r++) {
      const at = r * stride;
      const max = view.getFloat32(at + 8 * k, true);
      counts[r] = view.getInt32(at + 8 * k + 4, true);
      const lse = Math.log(view.getFloat64(at + 8 * k + 8, true));
      for (let i = 0; i < counts[r]; i++) {
        tokens[r * k + i] = view.getInt32(at + 4 * k + 4 * i, true);
        logProbs[r * k + i] = view.getFloat32(at + 4 * i, true) - max - lse;
      }
    }
    return { k, counts, tokens, logProbs };
  }
  const data = logits.dataSync();
  const values = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let max = Number.NEGATIVE_INFINITY;
    let count = 0;
    for (let v = 0; v < vocab; v++) {
      const x = data[o + v];
      if (x > max) max = x;
      if (v === skip || (count === k && !(x > values[k - 1]))) continue;
      // Insert after the entries ≥ x (lower ids first among equal logits), dropping the last when full.
      let i = count < k ? count++ : k - 1;
      while (i > 0 && values[i - 1] < x) {
        values[i] = values[i - 1];
        tokens[r * k + i] = tokens[r * k + i - 1];
        i--;
      }
      values[i] = x;
      tokens[r * k + i] = v;
    }
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(data[o + v] - max);
    const lse = Math.log(sum);
    counts[r] = count;
    for (let i = 0; i < count; i++) logProbs[r * k + i] = values[i] - max - lse;
  }
  return { k, counts, tokens, logProbs };
}

/** Rows `rows` of `x` `[N, ...]` in that order (beam reordering): one block copy per row on the wasm heap. */
export function gatherRows<T extends tf.Tensor>(x: T, rows: tf.Tensor1D): T {
  if (x.dtype === 'float32' && appKernelReady(GATHER_ROWS_KERNEL)) {
    return tf.engine().runKernel(GATHER_ROWS_KERNEL, { x, rows }, {}) as T;
  }
  return tf.gather(x, rows) as T;
}

/**
 * The self-attention cache `[N, H, t, dh]` with its rows taken in the order `rows` (all of them, in place, when
 * omitted) and the step's keys or values `fresh` `[n, H, 1, dh]` appended: `[n, H, t + 1, dh]`, one copy of the
 * cache instead of a gather then a concat.
 */
export function appendCache(cache: tf.Tensor4D, fresh: tf.Tensor4D, rows?: tf.Tensor1D): tf.Tensor4D {
  if (cache.dtype === 'float32' && fresh.dtype === 'float32' && appKernelReady(APPEND_CACHE_KERNEL)) {
    const inputs: tf.NamedTensorMap = rows ? { cache, fresh, rows } : { cache, fresh };
    return tf.engine().runKernel(APPEND_CACHE_KERNEL, inputs, {}) as tf.Tensor4D;
  }
  return tf.tidy(() => tf.concat([rows ? tf.gather(cache, rows) : cache, fresh], 2));
}
