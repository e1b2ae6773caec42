import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../training/backend.js';
import { matmulTransposed, releaseWeightTransposes, withCachedWeightTransposes } from './matmul.js';

beforeAll(async () => {
  await initBackend('wasm');
});

test('cached weight transposes: same products, refreshed on assign, freed by release', () => {
  const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
  const w = tf.variable(tf.randomNormal([5, 4], 0, 1, 'float32', 2));
  const plain = () => tf.tidy(() => matmulTransposed(x, w).dataSync());
  const cached = () => withCachedWeightTransposes(() => tf.tidy(() => matmulTransposed(x, w).dataSync()));
  const before = tf.memory().numTensors;
  expect(cached()).toEqual(plain());
  expect(tf.memory().numTensors).toBe(before + 1); // the kept transpose
  expect(cached()).toEqual(plain());
  expect(tf.memory().numTensors).toBe(before + 1); // reused, not rebuilt
  const next = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
  w.assign(next);
  next.dispose(); // the variable holds its data now
  expect(cached()).toEqual(plain()); // new values: rebuilt, the stale one freed
  expect(tf.memory().numTensors).toBe(before + 1);
  releaseWeightTransposes();
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, w]);
});
