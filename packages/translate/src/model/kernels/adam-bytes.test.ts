import { expect, test } from 'vitest';
import { ADAM_SHARED, ADAM_UNSHARED } from './adam-bytes.js';
import { assembleWatFile } from './assemble-wasm.mjs';

// adam.wat is hand-written; `node src/model/kernels/build-wasm.mjs` regenerates adam-bytes.ts from it.
test('adam-bytes.ts holds adam.wat as wabt assembles it, for an unshared and a shared memory', () => {
  expect({ unshared: ADAM_UNSHARED, shared: ADAM_SHARED }).toEqual(assembleWatFile('adam'));
});
