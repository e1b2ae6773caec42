import * as tf from '@tensorflow/tfjs-core';
import { appKernelsEnabled } from './switch.js';

/** tfjs's own kernels that an app kernel replaced, by `backendName_kernelName` (as tfjs keys its registry). */
const replaced = new Map<string, tf.KernelConfig>();

/**
 * Registers kernel configs with tfjs, idempotently: a config already registered is skipped; one whose name tfjs
 * (or another library) registered for that backend replaces it, and the replaced config stays reachable through
 * {@link replacedKernel} so the replacement can fall back to it. The mechanism behind `registerAppKernels`.
 */
export function registerKernelConfigs(configs: readonly tf.KernelConfig[]): void {
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) {
      replaced.set(`${config.backendName}_${config.kernelName}`, current);
      // tfjs warns and overwrites when a name is registered twice; unregistering first says it is meant.
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}

/** The kernel that {@link registerKernelConfigs} replaced for this name and backend, if it replaced one. */
export function replacedKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return replaced.get(`${backendName}_${kernelName}`);
}

/**
 * Whether an op may run the app kernel `kernelName` now: the app's kernels are on
 * ({@link experimental_setAppKernels}), the wasm backend is active and the kernel is registered (`registerAppKernels`,
 * which `initBackend` calls). Otherwise the op takes its tfjs path.
 */
export function appKernelReady(kernelName: string): boolean {
  return appKernelsEnabled() && tf.getBackend() === 'wasm' && tf.getKernel(kernelName, 'wasm') !== undefined;
}
