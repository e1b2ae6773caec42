import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul } from './kernels/batch-matmul.js';
import { blockedMatMul, columnSums, readsTransposedInPlace } from './kernels/gemm.js';

function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  return tf.transpose(x, perm);
}

/**
 * `op(a) @ op(b)`. Batched products (rank ≥ 3: attention) take the transposes as flags into
 * {@link batchMatMul} (a WebAssembly SIMD kernel on wasm, no transposed copies); 2-D products (the linear layers)
 * transpose explicitly and run a plain matMul, which tfjs-backend-wasm sends to XNNPACK: it runs
 * `transposeA`/`transposeB` about 15× slower.
 */
function product(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (a.rank > 2) return batchMatMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
}

/**
 * `a @ b` (batched over leading dims) whose gradients never ask the backend for a transposed matMul on a 2-D
 * product (see {@link product}); tfjs's own MatMul gradient uses those flags.
 */
export const matmul = tf.customGrad((...inputs) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: product(a, b, false, false),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      product(dy, saved[1], false, true),
      product(saved[0], dy, true, false),
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a @ bᵀ` for batched `a`, `b` (attention scores): d a = dy @ b, d b = dyᵀ @ a, no transposed copies. */
const matmulBatchedTransposed = tf.customGrad((...inputs) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: product(a, b, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      product(dy, saved[1], false, false),
      product(dy, saved[0], true, false),
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Transposed weights kept by {@link withCachedWeightTransposes}: per variable, valid while its data is unchanged. */
const transposes = new Map<tf.Variable, { dataId: object; value: tf.Tensor }>();
let caching = 0;

/**
 * Runs `fn` with the transposes {@link matmulTransposed} makes of weight variables kept (in the tfjs heap) until
 * {@link releaseWeightTransposes}: incremental decoding multiplies by the same weights at every step, and each
 * explicit transpose is a fresh tensor that XNNPACK also repacks (for the output projection of OPUS-MT base,
 * 58101 × 512 floats per generated token). Entries are rebuilt when a variable is assigned new values.
 */
export function withCachedWeightTransposes<T>(fn: () => T): T {
  caching++;
  try {
    return fn();
  } finally {
    caching--;
  }
}

/** Frees every kept transpose (called when a decoding state is disposed). */
export function releaseWeightTransposes(): void {
  for (const { value } of transposes.values()) value.dispose();
  transposes.clear();
}

function transposedWeight(b: tf.Tensor): tf.Tensor {
  if (caching === 0 || !(b instanceof tf.Variable)) return swapLast(b);
  const hit = transposes.get(b);
  if (hit && hit.dataId === b.dataId && !hit.value.isDisposed) return hit.value;
  hit?.value.dispose();
  const value = tf.keep(swapLast(b));
  transposes.set(b, { dataId: b.dataId, value });
  return value;
}

/**
 * A linear layer's product `x @ wᵀ`: `x` `[N, in]`, `w` `[out, in]` (HF's layout). The forward reads the weight as
 * the transposed right operand where {@link blockedMatMul}'s packed product runs (out ≥ 256), and elsewhere
 * multiplies by its transpose (kept for the whole of {@link withCachedWeightTransposes}, so a training step that
 * recomputes a layer transposes each weight once, and decoding's XNNPACK keeps its packed copy); the backward takes
 * dx = dy @ w with the weight itself as the right operand and dw = dyᵀ @ x, already in `[out, in]` (dy read in
 * place where packed). Through {@link matmulTransposed} the same gradients cost three weight-sized transposes
 * instead of one, and a transposed copy of the activations.
 */
export const linearProduct = tf.customGrad((...inputs) => {
  const [x, w, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: readsTransposedInPlace(w.shape[0])
      ? blockedMatMul(x, w, false, true)
      : blockedMatMul(x, transposedWeight(w)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      blockedMatMul(dy, saved[1]),
      blockedMatMul(dy, saved[0], true, false),
    ],
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/**
 * `y + bias` for rows `y` `[N, out]` and `bias` `[out]`: `tf.add`'s value, with the bias gradient Σ over the rows of
 * dy as {@link columnSums} (the same bits as `tf.add`'s own gradient, a transpose and a sum on the wasm backend).
 */
export const addBias = tf.customGrad((...inputs) => {
  const [y, bias] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  return {
    value: tf.add(y, bias),
    gradFunc: (dy: tf.Tensor) => [
      tf.reshape(dy, y.shape),
      columnSums(tf.reshape(dy, [-1, bias.size]) as tf.Tensor2D),
    ],
  };
}) as (y: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

/** `a @ bᵀ`: through {@link matmul} with an explicit transpose in 2-D, flags only when batched. */
export function matmulTransposed(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return a.rank > 2 ? matmulBatchedTransposed(a, b) : matmul(a, transposedWeight(b));
}
