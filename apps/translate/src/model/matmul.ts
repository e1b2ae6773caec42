import * as tf from '@tensorflow/tfjs-core';

function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  return tf.transpose(x, perm);
}

/**
 * `a @ b` (batched over leading dims) whose gradients never ask the backend for a transposed matMul: the wasm
 * backend (tfjs 4.22, XNNPACK) runs `transposeA`/`transposeB` about 15× slower than an explicit transpose
 * followed by a plain matMul, and tfjs's own MatMul gradient uses those flags.
 */
export const matmul = tf.customGrad((...inputs) => {
  const [a, b, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.matMul(dy, swapLast(saved[1])),
      tf.matMul(swapLast(saved[0]), dy),
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a @ bᵀ` through {@link matmul}. */
export function matmulTransposed(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return matmul(a, swapLast(b));
}
