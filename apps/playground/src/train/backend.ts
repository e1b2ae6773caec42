import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

export const BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

let wasmConfigured = false;

function configureWasm(): void {
  if (wasmConfigured) return;
  wasmConfigured = true;
  // The .wasm files are copied into the site (vite.config.ts); never a CDN. One thread: a static host is not
  // cross-origin isolated, so SharedArrayBuffer (and the threaded build) is not there anyway.
  setWasmPaths(new URL('wasm/tfjs/', document.baseURI).href);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

/**
 * Switches tfjs to the preferred backend that initialises here: webgl where the browser has WebGL, else wasm, else
 * cpu. `preferred` puts one first. Returns the backend in use.
 */
export async function selectBackend(preferred?: BackendName): Promise<BackendName> {
  configureWasm();
  const order = preferred ? [preferred, ...BACKENDS.filter((b) => b !== preferred)] : [...BACKENDS];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // Not available in this browser (no WebGL context, no WebAssembly): try the next one.
    }
  }
  throw new Error('No tfjs backend initialised (webgl, wasm and cpu all failed).');
}
