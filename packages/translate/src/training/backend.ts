import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the umbrella package would, but we depend on core only.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { heapMemory, type WasmHeapBackend } from '../model/kernels/heap-module.js';
import {
  KernelPool,
  kernelPool,
  mayBlock,
  type SpawnKernelWorker,
  setKernelPool,
  spawnBrowserWorker,
} from '../model/kernels/kernel-pool.js';
import { registerAppKernels } from '../model/kernels/register-all.js';

export type BackendName = 'wasm' | 'cpu';

/** Where tfjs-backend-wasm finds its `.wasm` binaries: what its `setWasmPaths` takes (a prefix, or a map by file). */
export type WasmPaths = Parameters<typeof setWasmPaths>[0];

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Threads of the wasm backend: tfjs's XNNPACK pool (`setThreadsCount`) and the app kernels' pool (the blocked
   * products split by rows: the same values on any count). Above 1 only where tfjs runs its threaded build (a
   * cross-origin isolated page or worker; Node through `initNodeBackend`). Default: every core
   * (`navigator.hardwareConcurrency`) where that build runs, else 1.
   */
  threads?: number;
  /**
   * What the threads are for. `'training'` (default): the app kernels' pool runs the products, tfjs's XNNPACK pool
   * one thread. `'decoding'`: no pool, XNNPACK on every thread — while decoding the weights do not change, so
   * XNNPACK's packed copies of them pay off, and it runs a decoding step's small products faster (OPUS-MT base, 2
   * threads: beam 5 at 1.2 sentences/s against 0.9; `el-translate bench`). Results are the same either way.
   */
  workload?: 'training' | 'decoding';
  /**
   * Threads of tfjs's own XNNPACK pool (the app kernels' pool keeps `threads`). Default: 1 where the app kernels'
   * pool starts (they would compete for the same cores), else `threads`.
   */
  xnnpackThreads?: number;
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
  /**
   * Starts a worker of the app kernels' pool from its script's source. Default: a `Worker` from a Blob URL where
   * the global `Worker` exists; `initNodeBackend` passes worker_threads.
   */
  spawnWorker?: SpawnKernelWorker;
}

/** Whether tfjs-backend-wasm will pick its threaded build here (its own test: shared memory and isolation). */
function threadedBuildPossible(): boolean {
  return (
    typeof SharedArrayBuffer !== 'undefined' &&
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true
  );
}

/**
 * tfjs-backend-wasm 4.22 caps its pool at half of `navigator.hardwareConcurrency` when its module starts (so one
 * thread on two cores). Reporting twice the threads asked for while it starts lifts the cap; the getter is removed
 * afterwards (the Node shim does the same with `os.cpus`).
 */
function liftBrowserThreadCap(threads: number): (() => void) | undefined {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav || !(threads > 1) || (nav.hardwareConcurrency ?? 0) >= 2 * threads) return undefined;
  if (Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency')) return undefined;
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
  return () => {
    delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

let active: BackendName | undefined;

/** How the app kernels' pool would start its workers here, if it can run here at all. */
function poolSpawner(spawn: SpawnKernelWorker | undefined): SpawnKernelWorker | undefined {
  if (!mayBlock()) return undefined;
  return spawn ?? (typeof Worker === 'function' ? spawnBrowserWorker : undefined);
}

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
      const threads =
        options.threads ??
        (threadedBuildPossible() ? Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1) : undefined);
      const spawn =
        threads !== undefined && threads > 1 && options.workload !== 'decoding'
          ? poolSpawner(options.spawnWorker)
          : undefined;
      // With the app kernels' pool, tfjs's own XNNPACK pool gets one thread: its threads wake for every small op
      // (an add, a transpose) and spin between them, taking the core the pool's worker needs (small preset step:
      // 515 ms against 629 with both pools on two threads; 880 on one thread; `el-translate bench`).
      const xnnpack = options.xnnpackThreads ?? (spawn ? 1 : threads);
      if (xnnpack !== undefined) setThreadsCount(xnnpack);
      const restore = options.beforeWasmStart
        ? options.beforeWasmStart()
        : xnnpack !== undefined
          ? liftBrowserThreadCap(xnnpack)
          : undefined;
      try {
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          active = 'wasm';
          // On tfjs's shared heap only: KernelPool.create declines an unshared one (tfjs's unthreaded build).
          if (spawn && threads !== undefined) {
            const memory = heapMemory(tf.backend() as unknown as WasmHeapBackend);
            setKernelPool(KernelPool.create(memory, threads, spawn));
          }
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

/**
 * Threads the active backend computes with: the app kernels' pool or tfjs-backend-wasm's XNNPACK pool, whichever
 * is larger (with the first, the second runs one thread); 1 on cpu or before {@link initBackend}. What a page should
 * report, rather than what it asked for.
 */
export function backendThreads(): number {
  return active === 'wasm' ? Math.max(getThreadsCount(), kernelThreads()) : 1;
}

/**
 * Threads of the app kernels' pool (the blocked products split by rows): {@link backendThreads} where the pool
 * could start (a shared heap, a thread that may block, a way to start workers), else 1.
 */
export function kernelThreads(): number {
  return kernelPool()?.threads ?? 1;
}
