import { expect, test } from 'vitest';
import { assembleWatFile } from './assemble-wasm.mjs';
import { LAYER_NORM_SHARED, LAYER_NORM_UNSHARED } from './layer-norm-bytes.js';

// layer-norm.wat is hand-written; `node src/model/kernels/build-wasm.mjs` regenerates layer-norm-bytes.ts from it.
test('layer-norm-bytes.ts holds layer-norm.wat as wabt assembles it, for an unshared and a shared memory', () => {
  expect({ unshared: LAYER_NORM_UNSHARED, shared: LAYER_NORM_SHARED }).toEqual(assembleWatFile('layer-norm'));
});
