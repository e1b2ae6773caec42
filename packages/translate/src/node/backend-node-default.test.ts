import { availableParallelism } from 'node:os';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { expect, test } from 'vitest';
import { backendThreads, kernelThreads } from '../training/backend.js';
import { initNodeBackend } from './backend-node.js';

// In its own process: the backend's default thread count is every core, for tfjs's XNNPACK pool and the app
// kernels' pool alike.
test('initNodeBackend without threads runs on every core', async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
  const cores = availableParallelism();
  expect(backendThreads()).toBe(cores);
  // Above one core: the app kernels' pool on every core, tfjs's XNNPACK pool on one beside it.
  expect(kernelThreads()).toBe(cores);
  expect(getThreadsCount()).toBe(1);
});
