import { Worker } from 'node:worker_threads';
import type { KernelWorker } from '../model/kernels/kernel-pool.js';

/** What a browser worker script finds as `self`, over worker_threads' `parentPort` (the kernel pool's use of it). */
const SELF_OVER_PARENT_PORT = `const self = (() => {
  const { parentPort } = require('node:worker_threads');
  let listener;
  return {
    set onmessage(f) {
      if (listener) parentPort.off('message', listener);
      listener = f ? (data) => f({ data }) : undefined;
      if (listener) parentPort.on('message', listener);
    },
    close() {
      parentPort.close();
    },
  };
})();
`;

/** A worker of the app kernels' pool on worker_threads: the pool's browser worker script over `parentPort`. */
export function spawnNodeKernelWorker(source: string): KernelWorker {
  return new Worker(SELF_OVER_PARENT_PORT + source, { eval: true });
}
