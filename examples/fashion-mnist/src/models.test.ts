import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from './backend.js';
import { maxPool2x2, patches3x3, patches3x3Adjoint } from './models.js';
import { mulberry32 } from './random.js';

/** The patches as tfjs ops compute them: nine shifted slices of the zero-padded input, side by side along channels. */
function slicedPatches(x: tf.Tensor4D): tf.Tensor2D {
  const [batch, height, width, channels] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  const shifted: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++)
    for (let dx = 0; dx < 3; dx++)
      shifted.push(tf.slice(padded, [0, dy, dx, 0], [batch, height, width, channels]));
  return tf.reshape(tf.concat(shifted, 3), [batch * height * width, 9 * channels]);
}

describe('3 × 3 patches (im2col) on typed arrays', () => {
  beforeAll(useWasmBackend);
  const random = mulberry32(7);
  const shape = [2, 5, 4, 3] as const;
  const size = shape.reduce<number>((a, b) => a * b, 1);
  const x = Float32Array.from({ length: size }, () => random() * 2 - 1);

  it('equal the nine padded slices concatenated along channels, entry for entry', () => {
    const expected = tf.tidy(() => slicedPatches(tf.tensor4d(x, [...shape])).dataSync());
    expect(patches3x3(x, shape)).toEqual(expected);
  });

  it('have as adjoint the gradient tfjs derives for the slices and concat', () => {
    const d = Float32Array.from({ length: size * 9 }, () => random() * 2 - 1);
    const expected = tf.tidy(() => {
      const grad = tf.grad((input: tf.Tensor) =>
        tf.sum(tf.mul(slicedPatches(input as tf.Tensor4D), tf.tensor2d(d, [size / 3, 27]))),
      );
      return grad(tf.tensor4d(x, [...shape])).dataSync();
    });
    const adjoint = patches3x3Adjoint(d, shape);
    // Each entry sums at most nine products of ±1 · d in both; only the summation order can differ.
    adjoint.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 5);
    });
    // And ⟨P x, d⟩ = ⟨x, Pᵀ d⟩ in float64.
    const p = patches3x3(x, shape);
    const left = p.reduce((a, v, i) => a + v * d[i], 0);
    const right = x.reduce((a, v, i) => a + v * adjoint[i], 0);
    expect(Math.abs(left - right)).toBeLessThan(1e-4);
  });
});

describe('2 × 2 max-pooling on typed arrays', () => {
  beforeAll(useWasmBackend);
  const random = mulberry32(11);
  const shape = [2, 6, 4, 3] as const;
  // Positive, as after ReLU: see the last test for windows whose maximum is negative.
  const x = Float32Array.from({ length: 2 * 6 * 4 * 3 }, () => random() + 1e-3);

  it("gives tf.maxPool's values, and its gradient goes where tfjs's does (no ties in random data)", () => {
    const [values, gradient] = tf.tidy(() => {
      const input = tf.tensor4d(x, [...shape]);
      const pool = (v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid');
      return [
        pool(input).dataSync(),
        tf
          .grad((v: tf.Tensor) => tf.sum(pool(v)))(input)
          .dataSync(),
      ];
    });
    const { values: ours, from } = maxPool2x2(x, shape);
    expect(ours).toEqual(values);
    const routed = new Float32Array(x.length);
    for (const i of from) routed[i] += 1;
    expect(routed).toEqual(gradient);
  });

  it('routes the gradient to the maximum when it is negative (tfjs-backend-wasm 4.22 routes it to the first entry)', () => {
    // The window (−0.5, −0.2, −0.9, −0.7): the maximum is −0.2, entry 1; raising entry 1 by h raises the output by h.
    const window = Float32Array.of(-0.5, -0.2, -0.9, -0.7);
    expect([...maxPool2x2(window, [1, 2, 2, 1]).from]).toEqual([1]);
    const tfjs = tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid')))(
          tf.tensor4d(window, [1, 2, 2, 1]),
        )
        .dataSync(),
    );
    // Recorded so that a tfjs that fixes it shows up here; harmless in the CNN, where pooling follows ReLU.
    expect([...tfjs]).toEqual([1, 0, 0, 0]);
  });

  it('takes the first of equal entries (after ReLU, zeros tie)', () => {
    const zeros = new Float32Array(2 * 2 * 2 * 1);
    expect([...maxPool2x2(zeros, [2, 2, 2, 1]).from]).toEqual([0, 4]);
  });
});
