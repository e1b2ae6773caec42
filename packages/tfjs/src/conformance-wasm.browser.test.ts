import { describeConformance } from '@encouraging-loss/conformance';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { tfjsAdapter } from './test-utils.js';

declare const __TFJS_WASM_PATH__: string;

// The .wasm files come from the installed package, served by vite (vitest.browser.config.ts).
setWasmPaths(__TFJS_WASM_PATH__);
await tf.setBackend('wasm');
it('runs on the wasm backend', () => {
  expect(tf.getBackend()).toBe('wasm');
});
describeConformance(tfjsAdapter('tfjs wasm fused in Chromium', 'auto'));
