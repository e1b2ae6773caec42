import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { APP_KERNEL_CONFIGS, registerAppKernels } from './register-all.js';
import { replacedKernel } from './registration.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

test('initBackend registers every listed kernel, once per name, all for the wasm backend', () => {
  const names = APP_KERNEL_CONFIGS.map((config) => config.kernelName);
  expect(new Set(names).size).toBe(names.length);
  for (const config of APP_KERNEL_CONFIGS) {
    expect(config.backendName, config.kernelName).toBe('wasm');
    expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelName).toBe(config.kernelFunc);
  }
});

test('registering again changes nothing and keeps tfjs-backend-wasm’s Identity as the one replaced', () => {
  const original = replacedKernel('Identity', 'wasm');
  expect(original?.kernelFunc).toBeTypeOf('function');
  expect(APP_KERNEL_CONFIGS.some((config) => config.kernelFunc === original?.kernelFunc)).toBe(false);
  registerAppKernels();
  registerAppKernels();
  expect(replacedKernel('Identity', 'wasm')).toBe(original);
  for (const config of APP_KERNEL_CONFIGS) {
    expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelName).toBe(config.kernelFunc);
  }
});
