import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself (the umbrella package would; we depend on tfjs-core only).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/**
 * Selects tfjs's wasm backend (SIMD; single-threaded in Node, which keeps runs deterministic), loading its .wasm
 * files from the installed package. Throws if the backend cannot start: the figures are the wasm backend's.
 */
export async function useWasmBackend(): Promise<void> {
  tf.env().set('PROD', true);
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  setWasmPaths(`${join(root, 'dist')}/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend did not start');
  await tf.ready();
}
