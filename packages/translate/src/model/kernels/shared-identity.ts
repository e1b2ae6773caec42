import type * as tf from '@tensorflow/tfjs-core';
import { registerKernelConfigs, replacedKernel } from './registration.js';
import { appKernelsEnabled } from './switch.js';

interface WasmBackendLike {
  incRef(dataId: object): void;
}

const sharedIdentity: tf.KernelFunc = (args) => {
  if (!appKernelsEnabled()) {
    // App kernels off: tfjs-backend-wasm's own Identity (a copy), the one this config replaced.
    const original = replacedKernel('Identity', 'wasm');
    if (original) return original.kernelFunc(args);
  }
  const { inputs, backend } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/**
 * tfjs saves every tensor a gradient needs through `Identity` (`engine.clone`): each input a kernel's gradient reads,
 * everything a `tf.customGrad` passes to `save`. tfjs-backend-wasm's `Identity` copies the data; the cpu backend's
 * shares it (tensors are immutable). This replacement makes the wasm one share too (one more reference to the same
 * heap memory), so a tape no longer holds a second copy of every activation and weight it saves: about 5 % of a
 * training step of the small preset went to those copies. Only the app's own kernels write heap memory, and only
 * into outputs they made. With `experimental_setAppKernels(false)` it runs tfjs-backend-wasm's own `Identity`
 * again, checked at every call. Registered with the other app kernels by `registerAppKernels` (register-all.ts).
 */
export const sharedIdentityConfig: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: sharedIdentity,
};

/**
 * Registers {@link sharedIdentityConfig} if it is not yet (`registerAppKernels`, which `initBackend` calls,
 * registers it with the rest). Process-wide; idempotent. It follows `experimental_setAppKernels` by itself.
 */
export function ensureSharedIdentity(): void {
  registerKernelConfigs([sharedIdentityConfig]);
}
