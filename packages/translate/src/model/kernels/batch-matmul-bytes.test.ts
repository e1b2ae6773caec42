import { expect, test } from 'vitest';
import { assembleWatFile } from './assemble-wasm.mjs';
import { BATCH_MATMUL_SHARED, BATCH_MATMUL_UNSHARED } from './batch-matmul-bytes.js';

// batch-matmul.wat is build-wasm.mjs's output (batch-matmul.test.ts runs its --check); this checks the bytes against it.
test('batch-matmul-bytes.ts holds batch-matmul.wat as wabt assembles it, for an unshared and a shared memory', () => {
  expect({ unshared: BATCH_MATMUL_UNSHARED, shared: BATCH_MATMUL_SHARED }).toEqual(
    assembleWatFile('batch-matmul'),
  );
});
