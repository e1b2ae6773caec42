import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { expect, test } from 'vitest';
import { backendThreads, kernelThreads } from '../training/backend.js';
import { initNodeBackend } from './backend-node.js';

// In its own process: for decoding, tfjs's XNNPACK pool takes every thread and the app kernels' pool does not start.
test("initNodeBackend with workload 'decoding' puts the threads on XNNPACK", async () => {
  expect(await initNodeBackend('wasm', { threads: 2, workload: 'decoding' })).toBe('wasm');
  expect(getThreadsCount()).toBe(2);
  expect(kernelThreads()).toBe(1);
  expect(backendThreads()).toBe(2);
});
