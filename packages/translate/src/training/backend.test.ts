import * as tf from '@tensorflow/tfjs-core';
import { expect, test } from 'vitest';
import { initBackend, type WasmPaths } from './backend.js';

// The main entry's fallback, in its own process (the backend is process-wide): wasm that cannot start is reported
// through onWarning, never written to a stream, and cpu is used.
test('wasm that cannot start falls back to cpu, telling onWarning why', async () => {
  const warnings: string[] = [];
  // setWasmPaths refuses a file map without an entry for each binary.
  const wasmPaths = { 'tfjs-backend-wasm.wasm': 'nowhere.wasm' } as WasmPaths;
  const backend = await initBackend('wasm', { wasmPaths, onWarning: (message) => warnings.push(message) });
  expect(backend).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
  expect(warnings).toEqual([
    expect.stringMatching(/^wasm backend unavailable \(.*no entries found.*\); using cpu$/),
  ]);
  // Idempotent: asking for wasm again keeps the backend that runs.
  expect(await initBackend('wasm', { onWarning: (message) => warnings.push(message) })).toBe('cpu');
  expect(warnings).toHaveLength(1);
});
