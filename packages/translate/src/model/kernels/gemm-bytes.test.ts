import { expect, test } from 'vitest';
import { assembleWatFile } from './assemble-wasm.mjs';
import { GEMM_SHARED, GEMM_UNSHARED } from './gemm-bytes.js';

// gemm.wat is hand-written; `node src/model/kernels/build-wasm.mjs` regenerates gemm-bytes.ts from it.
test('gemm-bytes.ts holds gemm.wat as wabt assembles it, for an unshared and a shared memory', () => {
  expect({ unshared: GEMM_UNSHARED, shared: GEMM_SHARED }).toEqual(assembleWatFile('gemm'));
});
