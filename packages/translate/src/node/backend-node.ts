import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { type BackendName, initBackend } from '../training/backend.js';
import { spawnNodeKernelWorker } from './kernel-worker.js';
import { prepareWasmThreads, unrefWasmWorkers } from './wasm-threads.js';

/** Options of {@link initNodeBackend}. */
export interface NodeBackendOptions {
  /**
   * Threads; above 1, tfjs-backend-wasm's threaded SIMD build on worker_threads (XNNPACK's pool) and the app
   * kernels' pool (the blocked products split by rows). Results do not depend on it. Default: every core
   * (`os.availableParallelism()`).
   */
  threads?: number;
  /** What the threads are for: `'training'` (default) or `'decoding'` (see `initBackend`). */
  workload?: 'training' | 'decoding';
  /** Threads of tfjs's own XNNPACK pool. Default: 1 beside the app kernels' pool of `threads` (see `initBackend`). */
  xnnpackThreads?: number;
  /** Told why wasm did not start when cpu is used instead. Default: a line on stderr. */
  onWarning?: (message: string) => void;
}

/**
 * `initBackend` under Node: the `.wasm` binaries read from the installed tfjs-backend-wasm (never fetched) and,
 * with `threads` above 1 (the default on a machine with more than one core), its threaded build started on
 * worker_threads (./wasm-threads.ts), which tfjs 4.22 refuses under Node by itself, and the app kernels' pool on
 * worker_threads. Falls back to cpu as `initBackend` does. Idempotent.
 *
 * @example
 * await initNodeBackend('wasm', { threads: 2 });
 */
export async function initNodeBackend(
  preferred: BackendName = 'wasm',
  options: NodeBackendOptions = {},
): Promise<BackendName> {
  const threads = options.threads ?? availableParallelism();
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const backend = await initBackend(preferred, {
    wasmPaths: `${join(root, 'dist')}/`,
    // One thread is tfjs's unthreaded SIMD build, its count left at tfjs's default as before.
    threads: threads > 1 ? threads : undefined,
    xnnpackThreads: threads > 1 ? options.xnnpackThreads : undefined,
    workload: options.workload,
    beforeWasmStart: threads > 1 ? () => prepareWasmThreads(threads) : undefined,
    onWarning: options.onWarning ?? ((message) => process.stderr.write(`el-translate: ${message}\n`)),
    spawnWorker: spawnNodeKernelWorker,
  });
  if (backend === 'wasm' && threads > 1) unrefWasmWorkers();
  return backend;
}
