import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { GEMM_KERNEL } from '../model/kernels/gemm.js';
import { backendThreads, kernelThreads } from '../training/backend.js';
import { initNodeBackend } from './backend-node.js';

// In its own process: the threaded build, which tfjs 4.22 does not start under Node by itself.
beforeAll(async () => {
  expect(await initNodeBackend('wasm', { threads: 2 })).toBe('wasm');
});

test('two threads start the threaded build on a shared memory, with the app kernels registered and pooled', () => {
  // The app kernels' pool on two threads; tfjs's XNNPACK pool on one beside it (they would compete for the cores).
  expect(kernelThreads()).toBe(2);
  expect(backendThreads()).toBe(2);
  expect(getThreadsCount()).toBe(1);
  const memory = (tf.backend() as unknown as { wasm: { wasmMemory: WebAssembly.Memory } }).wasm.wasmMemory;
  expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(tf.getKernel(GEMM_KERNEL, 'wasm')).toBeDefined();
  const product = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
  expect(Array.from(product.dataSync())).toEqual([19, 22, 43, 50]);
});

test('a second call keeps the running backend', async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
  expect(kernelThreads()).toBe(2);
});
