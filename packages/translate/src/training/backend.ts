import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the umbrella package would, but we depend on core only.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerAppKernels } from '../model/kernels/register-all.js';

export type BackendName = 'wasm' | 'cpu';

/** Where tfjs-backend-wasm finds its `.wasm` binaries: what its `setWasmPaths` takes (a prefix, or a map by file). */
export type WasmPaths = Parameters<typeof setWasmPaths>[0];

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** XNNPACK threads of the wasm backend (tfjs's `setThreadsCount`). Default: tfjs's choice. */
  threads?: number;
  /**
   * Where the `.wasm` binaries are served: a URL prefix ending in `/`, or tfjs's map from each binary's name to
   * its URL. Default: tfjs's (beside tfjs-backend-wasm's script; the installed package under Node).
   */
  wasmPaths?: WasmPaths;
  /** Told why wasm did not start when cpu is used instead. Default `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * For platform entries (`initNodeBackend` of `@encouraging-loss/translate/node`): runs just before
   * `tf.setBackend('wasm')` and may return a function to run once that start is over, whether it worked or not.
   */
  beforeWasmStart?: () => (() => void) | undefined;
}

let active: BackendName | undefined;

/**
 * Selects the tfjs backend: wasm (SIMD) with cpu as the fallback when wasm cannot start, and registers the app's
 * wasm kernels (`registerAppKernels`). Idempotent: once a backend is active, later calls return it. Imports no
 * Node module; under Node, `initNodeBackend` from `@encouraging-loss/translate/node` adds the installed package's
 * binaries and XNNPACK threads.
 *
 * @example
 * await initBackend('wasm', { wasmPaths: new URL('wasm/tfjs/', document.baseURI).href });
 */
export async function initBackend(
  preferred: BackendName = 'wasm',
  options: InitBackendOptions = {},
): Promise<BackendName> {
  if (active === preferred || (active && preferred === 'wasm' && active === 'cpu')) return active;
  registerAppKernels();
  if (preferred === 'wasm') {
    try {
      if (options.wasmPaths !== undefined) setWasmPaths(options.wasmPaths);
      if (options.threads !== undefined) setThreadsCount(options.threads);
      const restore = options.beforeWasmStart?.();
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          active = 'wasm';
          return active;
        }
      } finally {
        restore?.();
      }
    } catch (error) {
      (options.onWarning ?? console.warn)(
        `wasm backend unavailable (${(error as Error).message}); using cpu`,
      );
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  active = 'cpu';
  return active;
}
