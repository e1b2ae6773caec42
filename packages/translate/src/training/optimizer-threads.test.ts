import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { runAgainstReference } from '../../test/adam-reference.js';
import { openAdamKernel } from '../model/kernels/adam.js';
import { initNodeBackend } from '../node/backend-node.js';

// tfjs-backend-wasm's threaded build (a shared memory: the kernel's shared-memory variant), in its own process.
beforeAll(async () => {
  expect(await initNodeBackend('wasm', { threads: 2 })).toBe('wasm');
});

test('HostAdam on the threaded wasm build: its SIMD kernel on the shared heap matches float64 Adam', () => {
  const memory = (tf.backend() as unknown as { wasm: { wasmMemory: WebAssembly.Memory } }).wasm.wasmMemory;
  expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  const kernel = openAdamKernel();
  expect(kernel).toBeDefined();
  kernel?.close();
  const norms = runAgainstReference({ seed: 3, lr: 1e-2, clip: 1, t0: 1, steps: 4 });
  expect(Math.min(...norms)).toBeGreaterThan(1);
  runAgainstReference({ seed: 4, lr: 1e-3, clip: 1000, t0: 7, steps: 3 });
});
