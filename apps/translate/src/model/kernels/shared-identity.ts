import * as tf from '@tensorflow/tfjs-core';
import { appKernelsEnabled } from './switch.js';

interface WasmBackendLike {
  incRef(dataId: object): void;
}

let original: tf.KernelConfig | undefined;

/**
 * tfjs saves every tensor a gradient needs through `Identity` (`engine.clone`): each input a kernel's gradient reads,
 * everything a `tf.customGrad` passes to `save`. tfjs-backend-wasm's `Identity` copies the data; the cpu backend's
 * shares it (tensors are immutable). This makes the wasm one share too (one more reference to the same heap memory),
 * so a tape no longer holds a second copy of every activation and weight it saves: about 5 % of a training step of
 * the small preset went to those copies. Only the app's own kernels write heap memory, and only into outputs they
 * made. Process-wide; idempotent; off with `experimental_setAppKernels(false)` (the original is put back).
 */
export function ensureSharedIdentity(): void {
  if (tf.getBackend() !== 'wasm') return;
  const current = tf.getKernel('Identity', 'wasm');
  if (!appKernelsEnabled()) {
    if (original && current !== original) {
      tf.unregisterKernel('Identity', 'wasm');
      tf.registerKernel(original);
    }
    return;
  }
  if (current?.kernelFunc === sharedIdentity) return;
  if (current) {
    original ??= current;
    tf.unregisterKernel('Identity', 'wasm');
  }
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity });
}

const sharedIdentity: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};
