import * as tf from '@tensorflow/tfjs-core';
import { appKernelsEnabled } from './switch.js';

/** MurmurHash3's 32-bit finaliser: every input bit changes each output bit with probability about 1/2. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The keep mask of {@link dropout}: 1/(1 − rate) where a uniform draw is ≥ rate, else 0. Counter-based: draw i is
 * mix(i·φ ⊕ key) with key = mix(seed), so a seed gives the same mask whatever else is drawn, and two seeds give
 * unrelated masks rather than shifted copies of one stream.
 */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  const mask = new Float32Array(size);
  const keep = 1 / (1 - rate);
  // 24-bit draws u = h / 2^24 ∈ [0, 1), dropped when u < rate.
  const threshold = Math.ceil(rate * 2 ** 24);
  const key = mix(seed ^ 0x5bd1e995);
  for (let i = 0; i < size; i++) {
    mask[i] = mix(Math.imul(i, 0x9e3779b9) ^ key) >>> 8 >= threshold ? keep : 0;
  }
  return mask;
}

/**
 * Inverted dropout: `x` times a keep mask (0 with probability `rate`, else 1/(1 − rate)) drawn from `seed`; the
 * gradient is `dy` times the same mask. Same semantics as `tf.dropout(x, rate, undefined, seed)` with a cheaper
 * generator: tfjs draws each number through seedrandom's Alea in JS and then runs four more passes (add, floor,
 * div, mul) over the tensor; here the mask is one JS loop and the op one multiply.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (!appKernelsEnabled()) return tf.dropout(x, rate, undefined, seed);
  const apply = tf.customGrad((...inputs) => {
    const [input, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    const mask = tf.tensor(dropoutMask(input.size, rate, seed), input.shape, 'float32');
    save([mask]);
    return {
      value: tf.mul(input, mask),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]),
    };
  });
  return apply(x);
}
