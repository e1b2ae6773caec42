import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { ensureSharedIdentity } from './shared-identity.js';
import { experimental_setAppKernels } from './switch.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

afterEach(() => {
  experimental_setAppKernels(true);
  ensureSharedIdentity();
});

test('a clone shares the heap memory, outlives its source and keeps its values', () => {
  ensureSharedIdentity();
  const x = tf.tensor1d([1.5, -2, 3.25]);
  const buffers = tf.engine().backend.numDataIds();
  const y = tf.clone(x);
  expect(y.dataId).toBe(x.dataId);
  expect(tf.engine().backend.numDataIds()).toBe(buffers); // no second copy
  x.dispose();
  expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3.25]);
  y.dispose();
});

test('gradients through saved tensors are unchanged; with the app kernels off clones copy again', () => {
  const run = () => {
    const a = tf.tensor2d([0.5, -1, 2, 0.25, 3, -0.75], [2, 3]);
    const b = tf.tensor2d([1, 2, -1, 0.5, 0.25, -2], [3, 2]);
    // Mul, Exp and MatMul all save their inputs or outputs for the backward.
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.exp(tf.matMul(tf.mul(x, x), y))))([
      a,
      b,
    ]);
    const out = [Array.from(da.dataSync()), Array.from(db.dataSync())];
    tf.dispose([a, b, da, db]);
    return out;
  };
  ensureSharedIdentity();
  const shared = run();
  experimental_setAppKernels(false);
  ensureSharedIdentity();
  const x = tf.tensor1d([1]);
  const copy = tf.clone(x);
  expect(copy.dataId).not.toBe(x.dataId);
  tf.dispose([x, copy]);
  expect(run()).toEqual(shared);
});
