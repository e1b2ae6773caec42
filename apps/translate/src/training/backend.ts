import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the umbrella package would, but we depend on core only.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { prepareWasmThreads, unrefWasmWorkers } from '../model/kernels/wasm-threads.js';

export type BackendName = 'wasm' | 'cpu';

let active: BackendName | undefined;

/**
 * Selects the tfjs backend: wasm (SIMD, loaded from the installed package, never fetched) with cpu as the
 * fallback when wasm cannot start. Idempotent.
 */
export async function initBackend(
  preferred: BackendName = 'wasm',
  options: { threads?: number } = {},
): Promise<BackendName> {
  if (active === preferred || (active && preferred === 'wasm' && active === 'cpu')) return active;
  if (preferred === 'wasm') {
    try {
      const require = createRequire(import.meta.url);
      const root = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      setWasmPaths(`${join(root, 'dist')}/`);
      // More than one XNNPACK thread: the threaded SIMD build under Node (model/kernels/wasm-threads.ts).
      const restore = (options.threads ?? 1) > 1 ? prepareWasmThreads(options.threads!) : undefined;
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          if (restore) unrefWasmWorkers();
          active = 'wasm';
          return active;
        }
      } finally {
        restore?.();
      }
    } catch (error) {
      process.stderr.write(
        `el-translate: wasm backend unavailable (${(error as Error).message}); using cpu\n`,
      );
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  active = 'cpu';
  return active;
}
