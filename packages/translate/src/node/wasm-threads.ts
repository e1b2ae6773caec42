import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The pthread worker for tfjs-backend-wasm's threaded SIMD build under Node. The package ships the worker as a
 * string (`wasmWorkerContents`, already written for Node's worker_threads) and hands it to Emscripten as a Blob
 * URL, which Node's `Worker` cannot open; the main script goes to the worker as a Blob too. This file evaluates
 * the same worker code and points its `load` message at the package's main script on disk.
 */
function workerSource(wasmOut: string): string {
  return `'use strict';
const { parentPort } = require('node:worker_threads');
const wasmOut = ${JSON.stringify(wasmOut)};
const { wasmWorkerContents } = require(wasmOut + '/tfjs-backend-wasm-threaded-simd.worker.js');
const on = parentPort.on.bind(parentPort);
parentPort.on = (event, listener) =>
  on(event, (data) => {
    if (data && data.cmd === 'load' && typeof data.urlOrBlob !== 'string') {
      data.urlOrBlob = wasmOut + '/tfjs-backend-wasm-threaded-simd.js';
    }
    listener(data);
  });
// As tfjs does before making its Blob: the string holds "\\n" escapes meant to stay escapes.
new Function('require', '__filename', wasmWorkerContents.replace(/\\n/g, '\\\\n'))(require, __filename);
`;
}

/**
 * Lets the next `tf.setBackend('wasm')` start tfjs-backend-wasm 4.22's threaded SIMD build under Node with
 * `threads` XNNPACK threads (worker_threads). Call before the wasm backend is first initialised; returns
 * `restore`, to call once it is (it puts back the globals patched for the initialisation).
 *
 * tfjs 4.22 refuses threads under Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false there, tfjs issue 3830), caps the
 * pool at half of `navigator.hardwareConcurrency` (Node: `os.cpus().length`, so 1 on a 2-core machine) and loads
 * the pthread worker from a Blob URL. This sets the flag, reports twice the cores while the module initialises,
 * and maps the worker's Blob URL to a small CommonJS file written once to the temporary directory. XNNPACK
 * splits a matMul by output tiles, so results do not depend on the thread count.
 */
export function prepareWasmThreads(threads: number): () => void {
  const require = createRequire(import.meta.url);
  const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const source = workerSource(wasmOut);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const workerFile = join(os.tmpdir(), `el-translate-tfjs-pthread-${hash}.cjs`);
  if (!existsSync(workerFile)) writeFileSync(workerFile, source);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (blob: Blob) =>
    blob.type === 'application/javascript' ? workerFile : createObjectURL(blob);
  const cpus = os.cpus;
  // Twice the threads asked for (at least twice the cores): tfjs starts half of what Emscripten reports.
  const doubled = () => {
    const real = cpus();
    return Array.from({ length: Math.max(2 * threads, 2 * real.length) }, (_, i) => real[i % real.length]);
  };
  // The CommonJS view of node:os is the object Emscripten's require('os') returns.
  const osModule = require('node:os') as typeof os;
  osModule.cpus = doubled;
  return () => {
    URL.createObjectURL = createObjectURL;
    osModule.cpus = cpus;
  };
}

/** Lets the process exit with the pthread workers still parked (Emscripten keeps them referenced). */
export function unrefWasmWorkers(): void {
  const module = (tf.backend() as unknown as { wasm?: { PThread?: Record<string, unknown> } }).wasm;
  const pthread = module?.PThread as
    | { unusedWorkers: { unref(): void }[]; runningWorkers: { unref(): void }[] }
    | undefined;
  if (!pthread) return;
  for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) w.unref();
}
