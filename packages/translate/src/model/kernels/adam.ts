import * as tf from '@tensorflow/tfjs-core';
import { ADAM_SHARED, ADAM_UNSHARED } from './adam-bytes.js';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { appKernelsEnabled } from './switch.js';

interface WasmBackendLike extends WasmHeapBackend {
  wasm: WasmHeapBackend['wasm'] & { _malloc(bytes: number): number; _free(offset: number): void };
}
interface AdamExports {
  adam(
    p: number,
    out: number,
    g: number,
    m: number,
    v: number,
    n: number,
    scale: number,
    beta1: number,
    rest1: number,
    beta2: number,
    rest2: number,
    step: number,
    root: number,
    epsilon: number,
  ): void;
  squares(g: number, n: number): number;
}

/** The update's constants: see {@link AdamKernel.update}. */
export interface AdamConstants {
  /** The clipping factor applied to the gradient. */
  scale: number;
  beta1: number;
  beta2: number;
  /** lr / (1 − β₁ᵗ). */
  step: number;
  /** 1 / √(1 − β₂ᵗ). */
  root: number;
  epsilon: number;
}

/** Elements per chunk of gradient and moments staged in the heap: three 64 KiB arrays stay in L2. */
const CHUNK = 16384;

const MODULE = { unshared: ADAM_UNSHARED, shared: ADAM_SHARED };

/**
 * Adam on tfjs-backend-wasm's heap with WebAssembly SIMD (adam.wat), for gradients and moments held in host
 * `Float32Array`s: they pass through a small staging area in the heap, chunk by chunk, while parameters are read
 * where they are and the new values written straight into a fresh tensor's memory (no `dataSync` copy, no upload).
 * One per optimizer step ({@link openAdamKernel}); {@link AdamKernel.close} frees the staging area.
 */
export class AdamKernel {
  private readonly staging: number;

  constructor(
    private readonly backend: WasmBackendLike,
    private readonly memory: WebAssembly.Memory,
    private readonly kernel: AdamExports,
  ) {
    this.staging = backend.wasm._malloc(3 * CHUNK * 4) >>> 0;
    if (this.staging === 0) throw new Error('tfjs-backend-wasm: out of memory for the Adam staging area');
  }

  /** Σ g² over all of `gradients`, in float64. */
  squares(gradients: Iterable<Float32Array>): number {
    const heap = new Float32Array(this.memory.buffer);
    const at = this.staging >>> 2;
    let sum = 0;
    for (const g of gradients) {
      for (let start = 0; start < g.length; start += CHUNK) {
        const chunk = g.subarray(start, start + CHUNK);
        heap.set(chunk, at);
        sum += this.kernel.squares(this.staging, chunk.length);
      }
    }
    return sum;
  }

  /**
   * The updated value of `param` as a new tensor (a new tensor id, so tfjs-backend-wasm's XNNPACK operators cached
   * by the old one are not reused), and `m`, `v` updated in place, in float32 (for each element):
   * γ = scale·g, m ← β₁m + (1 − β₁)γ, v ← β₂v + (1 − β₂)γ², θ' = θ − step · m / (√v · root + ε).
   */
  update(param: tf.Tensor, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamConstants): tf.Tensor {
    const info = this.backend.makeOutput(param.shape, 'float32');
    const out = heapOffset(this.backend, info);
    const p = heapOffset(this.backend, param);
    // makeOutput may have grown the memory (a new buffer): view it afterwards.
    const heap = new Float32Array(this.memory.buffer);
    const gAt = this.staging;
    const mAt = gAt + CHUNK * 4;
    const vAt = mAt + CHUNK * 4;
    const rest1 = 1 - c.beta1;
    const rest2 = 1 - c.beta2;
    for (let start = 0; start < g.length; start += CHUNK) {
      const end = Math.min(g.length, start + CHUNK);
      const n = end - start;
      heap.set(g.subarray(start, end), gAt >>> 2);
      heap.set(m.subarray(start, end), mAt >>> 2);
      heap.set(v.subarray(start, end), vAt >>> 2);
      this.kernel.adam(
        p + start * 4,
        out + start * 4,
        gAt,
        mAt,
        vAt,
        n,
        c.scale,
        c.beta1,
        rest1,
        c.beta2,
        rest2,
        c.step,
        c.root,
        c.epsilon,
      );
      m.set(heap.subarray(mAt >>> 2, (mAt >>> 2) + n), start);
      v.set(heap.subarray(vAt >>> 2, (vAt >>> 2) + n), start);
    }
    return tf.engine().makeTensorFromTensorInfo(info, this.backend as unknown as tf.KernelBackend);
  }

  /** Frees the staging area. */
  close(): void {
    this.backend.wasm._free(this.staging);
  }
}

/**
 * The Adam kernel on the active backend's heap, or `undefined` off the wasm backend (or with the app's kernels
 * off: {@link experimental_setAppKernels}). Call {@link AdamKernel.close} when the step is done.
 */
export function openAdamKernel(): AdamKernel | undefined {
  if (!appKernelsEnabled() || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const memory = heapMemory(backend);
  return new AdamKernel(backend, memory, heapModule<AdamExports>(MODULE, memory));
}
