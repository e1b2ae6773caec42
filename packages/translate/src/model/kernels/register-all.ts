import type * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch-matmul.js';
import { appendCacheConfig, decodeScanConfig, gatherRowsConfig } from './decode-scan.js';
import { gemmConfig } from './gemm.js';
import { layerNormConfig, layerNormGradConfig } from './layer-norm.js';
import { registerKernelConfigs } from './registration.js';
import { sharedIdentityConfig } from './shared-identity.js';

/**
 * The app's kernels for tfjs-backend-wasm, as tfjs `KernelConfig`s (the habit of tfjs-backend-wasm's
 * `register_all_kernels.ts`): a new kernel is a config in its own file plus a line here. The adam heap routine
 * (adam.ts) and dropout are not tfjs kernels and are not listed.
 */
export const APP_KERNEL_CONFIGS: readonly tf.KernelConfig[] = [
  gemmConfig,
  batchMatMulConfig,
  layerNormConfig,
  layerNormGradConfig,
  decodeScanConfig,
  gatherRowsConfig,
  appendCacheConfig,
  sharedIdentityConfig,
];

/**
 * Registers {@link APP_KERNEL_CONFIGS} with tfjs: process-wide, idempotent, and needing no active backend (tfjs
 * keeps kernels by backend name and calls none before an op runs). `initBackend` calls it; call it yourself when
 * you start the wasm backend another way. The shared `Identity` replaces tfjs-backend-wasm's, which must already be
 * registered: importing this module imports tfjs-backend-wasm (gemm.ts), which registers its kernels on import.
 * Until it runs, the app's ops take their tfjs paths. `experimental_setAppKernels` still switches them off and on
 * afterwards, at every call.
 */
export function registerAppKernels(): void {
  registerKernelConfigs(APP_KERNEL_CONFIGS);
}
