import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { dropout, dropoutMask } from './dropout.js';

beforeAll(async () => {
  await initBackend('wasm');
});

test('the mask keeps each entry with probability 1 − rate (binomial, 6σ), values 0 or 1/(1 − rate)', () => {
  for (const rate of [0.1, 0.3, 0.5]) {
    for (const seed of [0, 1, 2 ** 31 - 1]) {
      const n = 200_000;
      const mask = dropoutMask(n, rate, seed);
      let dropped = 0;
      for (const v of mask) {
        if (v === 0) dropped++;
        else expect(v).toBe(Math.fround(1 / (1 - rate)));
      }
      const sigma = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(dropped - n * rate)).toBeLessThan(6 * sigma);
    }
  }
});

test('draws are uncorrelated between neighbours and between seeds (|r| < 6/√n)', () => {
  const n = 100_000;
  const a = dropoutMask(n, 0.5, 7);
  const b = dropoutMask(n, 0.5, 8);
  const corr = (x: Float32Array, y: Float32Array, shift: number) => {
    let sx = 0;
    let sy = 0;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    const m = n - shift;
    for (let i = 0; i < m; i++) {
      const u = x[i];
      const v = y[i + shift];
      sx += u;
      sy += v;
      sxy += u * v;
      sxx += u * u;
      syy += v * v;
    }
    return (sxy / m - (sx / m) * (sy / m)) / Math.sqrt((sxx / m - (sx / m) ** 2) * (syy / m - (sy / m) ** 2));
  };
  for (const shift of [0, 1, 2, 7]) expect(Math.abs(corr(a, b, shift))).toBeLessThan(6 / Math.sqrt(n));
  for (const shift of [1, 2, 3]) expect(Math.abs(corr(a, a, shift))).toBeLessThan(6 / Math.sqrt(n));
});

test('same seed, same mask; the gradient is dy times the forward mask (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.double({ min: 0.05, max: 0.9, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (size, rate, seed) => {
        expect(dropoutMask(size, rate, seed)).toEqual(dropoutMask(size, rate, seed));
        const x = tf.randomNormal([size], 0, 1, 'float32', seed);
        const dy = tf.randomNormal([size], 0, 1, 'float32', seed + 1);
        const mask = dropoutMask(size, rate, seed);
        const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => dropout(t, rate, seed))([x], dy);
        const xs = x.dataSync();
        const ys = value.dataSync();
        const gs = grads[0].dataSync();
        const dys = dy.dataSync();
        for (let i = 0; i < size; i++) {
          expect(ys[i]).toBe(Math.fround(xs[i] * mask[i]));
          expect(gs[i]).toBe(Math.fround(dys[i] * mask[i]));
        }
        tf.dispose([x, dy, value, ...grads]);
      },
    ),
    { numRuns: 15 },
  );
});
