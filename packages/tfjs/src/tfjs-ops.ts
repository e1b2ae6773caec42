import type { TensorOps } from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `TensorOps<tf.Tensor>`: the core's primitives on tfjs-core ops, for any registered backend (cpu, wasm, webgl,
 * webgpu). Floats are float32 (tfjs has no float64 on its JS backends), targets int32, masks bool.
 *
 * Fused overrides: `logSoftmax` = `tf.logSoftmax`, `log1p` = `tf.log1p`; `scope` = `tf.tidy`, so every
 * intermediate of a core call is freed when it returns.
 *
 * @example
 * ```ts
 * import { createEncouragingLoss } from '@encouraging-loss/core';
 * import { tfjsOps } from '@encouraging-loss/tfjs';
 * const { encouragingLossWithGrad } = createEncouragingLoss(tfjsOps);
 * const { loss, grad } = encouragingLossWithGrad(logits, targets, { logEnd: 0.75 }); // tf.Tensors
 * ```
 */
export const tfjsOps: TensorOps<tf.Tensor> = {
  specificationVersion: 'v1',
  name: 'tfjs',

  scalar: (value) => tf.scalar(value, 'float32'),
  intScalar: (value) => tf.scalar(value, 'int32'),
  vector: (values) => tf.tensor1d(Array.from(values), 'float32'),

  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  maximum: (a, b) => tf.maximum(a, b),
  neg: (x) => tf.neg(x),
  abs: (x) => tf.abs(x),
  exp: (x) => tf.exp(x),
  log: (x) => tf.log(x),

  greater: (a, b) => tf.greater(a, b),
  equal: (a, b) => tf.equal(a, b),
  logicalAnd: (a, b) => tf.logicalAnd(a, b),
  logicalNot: (x) => tf.logicalNot(x),
  where: (condition, a, b) => tf.where(condition, a, b),
  castLike: (mask) => tf.cast(mask, 'float32'),

  maxLastAxis: (x) => tf.max(x, -1, true),
  sumLastAxis: (x) => blockedSumLastAxis(x),
  sumAll: (x) => tf.sum(x),
  expandLastAxis: (x) => tf.expandDims(x, -1),
  squeezeLastAxis: (x) => tf.squeeze(x, [x.rank - 1]),
  // tf.oneHot writes a row of zeros for an index outside [0, K) (ignoreIndex) on every backend.
  oneHot: (indices, like) => tf.cast(tf.oneHot(indices as tf.Tensor, like.shape[like.rank - 1]), 'bool'),
  lastAxisSize: (like) => tf.scalar(like.shape[like.rank - 1], 'float32'),

  log1p: (x) => tf.log1p(x),
  logSoftmax: (x) => tf.logSoftmax(x),

  scope: (fn) => tf.tidy(fn as () => tf.TensorContainer) as ReturnType<typeof fn>,
};

/** Rows longer than this are summed in two levels. */
const BLOCKED_SUM_FROM = 1024;

/**
 * `Σ_k x_k` over the last axis, kept to one dimension. The wasm backend's `tf.sum` is a float32 running sum, which
 * drops every term below half an ulp of the partial sum: the tail of a 32 000-class softmax row vanishes. Summing
 * blocks of ⌈√K⌉ first and then the block sums bounds the error by (⌈√K⌉ + K/⌈√K⌉) rounding steps of the row's
 * magnitude instead of K, whatever the backend's reduction order.
 */
function blockedSumLastAxis(x: tf.Tensor): tf.Tensor {
  const K = x.shape[x.rank - 1];
  if (K <= BLOCKED_SUM_FROM) return tf.sum(x, -1, true);
  return tf.tidy(() => {
    const block = Math.ceil(Math.sqrt(K));
    const blocks = Math.ceil(K / block);
    const padding = x.shape.map((): [number, number] => [0, 0]);
    padding[x.rank - 1] = [0, blocks * block - K];
    const padded = blocks * block === K ? x : tf.pad(x, padding);
    const partial = tf.sum(tf.reshape(padded, [...x.shape.slice(0, -1), blocks, block]), -1);
    return tf.sum(partial, -1, true);
  });
}
