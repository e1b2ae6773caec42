import {
  type EncouragingLossOptions,
  encouragingLossComponents,
  encouragingLossWithGrad,
} from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';

/** Name under which the fused kernel is registered with tfjs (`tf.registerKernel`), per backend. */
export const ENCOURAGING_LOSS_KERNEL = 'EncouragingLossFused';

/** The backends the fused kernel runs on: their tensors live in host memory the kernel can read directly. */
export const FUSED_BACKENDS = ['cpu', 'wasm'] as const;

/** Attributes of the fused kernel. */
export interface FusedKernelAttrs {
  /** Core loss options (classWeights as a plain array). */
  options: EncouragingLossOptions;
  /** `'grad'`: outputs [loss, grad]; `'loss'`: [loss]; `'components'`: [loss, crossEntropy, bonus]. */
  mode: 'grad' | 'loss' | 'components';
}

// The wasm backend's tensors live in its heap: `dataIdMap` gives the byte offset, read in place (no copy).
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number; dtype: tf.DataType } };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: unknown): tf.TensorInfo;
  disposeData(dataId: object): unknown;
}

// The cpu backend: values are plain typed arrays; readSync returns them without a copy.
interface HostBackend {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function isWasmBackend(backend: unknown): backend is WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  return !!b && typeof b.makeOutput === 'function' && !!b.wasm?.HEAPU8 && !!b.dataIdMap;
}

function read(backend: HostBackend | WasmBackendLike, info: tf.TensorInfo): Float32Array | Int32Array {
  const size = info.shape.reduce((a, b) => a * b, 1);
  let values: unknown;
  if (isWasmBackend(backend)) {
    // The storage dtype can differ from the tensor's: a cast without loss (int32 → float32) only relabels.
    const { memoryOffset, dtype } = backend.dataIdMap.get(info.dataId);
    const Type = dtype === 'int32' ? Int32Array : dtype === 'bool' ? Uint8Array : Float32Array;
    values = new Type(backend.wasm.HEAPU8.buffer as ArrayBuffer, memoryOffset, size);
  } else {
    values = backend.readSync(info.dataId);
  }
  const wanted = info.dtype === 'float32' ? Float32Array : Int32Array;
  return values instanceof wanted ? values : wanted.from(values as ArrayLike<number>);
}

function write(backend: HostBackend | WasmBackendLike, shape: number[], values: Float32Array): tf.TensorInfo {
  return isWasmBackend(backend)
    ? backend.makeOutput(shape, 'float32', undefined, values)
    : backend.makeTensorInfo(shape, 'float32', values);
}

/**
 * The fused kernel: reads logits `[...B, K]` and targets from host memory and runs the core's typed-array kernel
 * (WebAssembly SIMD where available, one pass per row, exact gradient) instead of a chain of tfjs ops.
 */
const kernelFunc: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as HostBackend | WasmBackendLike;
  const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const { options, mode } = attrs as unknown as FusedKernelAttrs;
  // On wasm the gradient is written straight into an output tensor's heap memory (no host buffer, no copy). It is
  // allocated before any view is taken: growing the heap detaches the views made before it.
  const gradInfo =
    mode === 'grad' && isWasmBackend(backend) ? backend.makeOutput(logits.shape, 'float32') : undefined;
  const x = { data: read(backend, logits) as Float32Array, shape: logits.shape };
  const y = { data: read(backend, targets), shape: targets.shape };
  // Values were checked by the caller when asked (checkValues); the core still checks target indices (free here).
  const coreOptions = { ...options, checkFinite: false };
  if (mode === 'grad') {
    if (gradInfo) {
      try {
        const out = read(backend, gradInfo) as Float32Array;
        const { loss } = encouragingLossWithGrad(x, y, { ...coreOptions, out });
        return [write(backend, loss.shape, loss.data), gradInfo];
      } catch (error) {
        (backend as WasmBackendLike).disposeData(gradInfo.dataId); // bad targets: free the unreturned output
        throw error;
      }
    }
    const { loss, grad } = encouragingLossWithGrad(x, y, coreOptions);
    return [write(backend, loss.shape, loss.data), write(backend, grad.shape, grad.data)];
  }
  const { loss, crossEntropy, bonus } = encouragingLossComponents(x, y, coreOptions);
  const out = [write(backend, loss.shape, loss.data)];
  if (mode === 'components') {
    out.push(write(backend, crossEntropy.shape, crossEntropy.data));
    out.push(write(backend, bonus.shape, bonus.data));
  }
  return out;
};

/**
 * Registers the fused kernel with tfjs for `backendName` (once; later calls are no-ops). Called lazily by the loss
 * functions for the active backend when it is one of {@link FUSED_BACKENDS}; nothing is registered on import.
 *
 * @returns whether the kernel is available for `backendName`.
 */
export function ensureFusedKernel(backendName: string): boolean {
  if (!(FUSED_BACKENDS as readonly string[]).includes(backendName)) return false;
  if (tf.getKernel(ENCOURAGING_LOSS_KERNEL, backendName) === undefined) {
    tf.registerKernel({ kernelName: ENCOURAGING_LOSS_KERNEL, backendName, kernelFunc });
  }
  return true;
}

/** Runs the fused kernel on the active backend (registered by {@link ensureFusedKernel}). */
export function runFusedKernel(logits: tf.Tensor, targets: tf.Tensor, attrs: FusedKernelAttrs): tf.Tensor[] {
  const out = tf
    .engine()
    .runKernel(
      ENCOURAGING_LOSS_KERNEL,
      { logits, targets } as unknown as tf.NamedTensorMap,
      attrs as unknown as tf.NamedAttrMap,
    );
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}
