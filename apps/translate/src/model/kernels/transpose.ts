import * as tf from '@tensorflow/tfjs-core';
import { appKernelsEnabled } from './switch.js';

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const TILE = 32;

/**
 * out[b][c][r] = x[b][r][c] for `batch` matrices of `rows × cols` 4-byte words, in 32 × 32 tiles so that reads and
 * writes both stay within a few cache lines (a row-by-row loop writes with a stride of `rows` words: one cache
 * miss per element once a matrix is larger than the cache).
 */
export function transposeTiled(
  input: Uint32Array,
  output: Uint32Array,
  batch: number,
  rows: number,
  cols: number,
): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(r0 + TILE, rows);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(c0 + TILE, cols);
        for (let r = r0; r < r1; r++) {
          const from = base + r * cols;
          for (let c = c0; c < c1; c++) output[base + c * rows + r] = input[from + c];
        }
      }
    }
  }
}

let installed = false;

/**
 * Replaces tfjs-backend-wasm's `Transpose` kernel, for permutations that swap the last two axes of 4-byte tensors
 * (float32, int32: the 2-D transposes of the weight gradients and of the output projection), with
 * {@link transposeTiled} over the heap; any other permutation, dtype, or the app's kernels switched off goes to
 * the original kernel. tfjs's 2-D transpose walks the input row by row: on OPUS-MT base's 58101 × 512 output
 * weight that is one cache miss per element. A transpose only moves words, so results are bit-identical.
 * Call after the wasm backend is initialised; idempotent.
 */
export function installTransposeKernel(): void {
  if (installed || tf.getBackend() !== 'wasm') return;
  const original = tf.getKernel('Transpose', 'wasm');
  if (!original) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend: kernelBackend, attrs } = args;
    const x = (inputs as { x: tf.TensorInfo }).x;
    const perm = (attrs as { perm: number[] }).perm;
    const rank = x.shape.length;
    const swapsLastTwo =
      rank >= 2 &&
      perm.length === rank &&
      perm[rank - 2] === rank - 1 &&
      perm[rank - 1] === rank - 2 &&
      perm.slice(0, rank - 2).every((p, i) => p === i);
    if (!appKernelsEnabled() || !swapsLastTwo || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return original.kernelFunc(args);
    }
    const backend = kernelBackend as unknown as WasmBackendLike;
    const rows = x.shape[rank - 2];
    const cols = x.shape[rank - 1];
    const batch = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const outShape = [...x.shape.slice(0, -2), cols, rows];
    const out = backend.makeOutput(outShape, x.dtype);
    const size = batch * rows * cols;
    // Views after makeOutput: growing the heap detaches the buffer.
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const input = new Uint32Array(heap, backend.dataIdMap.get(x.dataId).memoryOffset, size);
    const output = new Uint32Array(heap, backend.dataIdMap.get(out.dataId).memoryOffset, size);
    transposeTiled(input, output, batch, rows, cols);
    return out;
  };
  tf.unregisterKernel('Transpose', 'wasm');
  tf.registerKernel({ ...original, kernelFunc });
  installed = true;
}
