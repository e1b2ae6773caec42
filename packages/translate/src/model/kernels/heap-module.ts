import { EncouragingLossError } from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';

/** A kernel module's two builds, base64 (a generated `*-bytes.ts`): importing an unshared or a shared memory. */
export interface ModuleVariants {
  unshared: string;
  shared: string;
}

/** What the app's kernels use of tfjs-backend-wasm's backend object (not part of its typed API). */
export interface WasmHeapBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** Byte offset of a tensor's data in the backend's memory. */
export function heapOffset(backend: WasmHeapBackend, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

/** The bytes of a generated module (`*-bytes.ts` holds them as base64). */
export function moduleBytes(base64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

const instances = new Map<ModuleVariants, WeakMap<WebAssembly.Memory, unknown>>();

/** The backend's `WebAssembly.Memory`, where tfjs-backend-wasm keeps every tensor. */
export function heapMemory(backend: WasmHeapBackend): WebAssembly.Memory {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!memory) throw new Error('tfjs-backend-wasm: no WebAssembly.Memory found on the backend');
  return memory;
}

/**
 * A kernel module's exports instantiated on `memory` (they read and write tensors in place), once per memory: the
 * shared-memory build when the memory is shared (tfjs-backend-wasm's threaded build).
 */
export function heapModule<T>(variants: ModuleVariants, memory: WebAssembly.Memory): T {
  let byMemory = instances.get(variants);
  if (!byMemory) {
    byMemory = new WeakMap();
    instances.set(variants, byMemory);
  }
  let exports = byMemory.get(memory) as T | undefined;
  if (!exports) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = moduleBytes(shared ? variants.shared : variants.unshared);
    exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as T;
    byMemory.set(memory, exports);
  }
  return exports;
}

/**
 * Copies the values of float32 `t` into `target` (`t.size` long): on the wasm backend straight from the heap, where
 * `dataSync` would return a fresh array — whose first write page-faults every page (90 ms for the 119 MB of OPUS-MT
 * base's embedding gradient, against 12 ms into an array written before); elsewhere through `dataSync`.
 */
export function readFloat32Into(t: tf.Tensor, target: Float32Array): void {
  if (target.length !== t.size) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `readFloat32Into: ${t.size} values into an array of ${target.length}`,
    );
  }
  if (t.dtype !== 'float32' || tf.getBackend() !== 'wasm') {
    target.set(t.dataSync());
    return;
  }
  const backend = tf.backend() as unknown as WasmHeapBackend;
  target.set(new Float32Array(heapMemory(backend).buffer, heapOffset(backend, t), t.size));
}
