import { expect, test } from 'vitest';
import { assembleWatFile } from './assemble-wasm.mjs';
import { DECODE_SHARED, DECODE_UNSHARED } from './decode-scan-bytes.js';

// decode-scan.wat is decode-build-wasm.mjs's output (decode-scan.test.ts runs its --check); this checks the bytes against it.
test('decode-scan-bytes.ts holds decode-scan.wat as wabt assembles it, for an unshared and a shared memory', () => {
  expect({ unshared: DECODE_UNSHARED, shared: DECODE_SHARED }).toEqual(assembleWatFile('decode-scan'));
});
