import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { experimental_setAppKernels } from './switch.js';
import { installTransposeKernel, transposeTiled } from './transpose.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  installTransposeKernel();
});

test('transposeTiled moves every word to its transposed place (property, tile edges included)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 70 }),
      (batch, rows, cols) => {
        const input = Uint32Array.from({ length: batch * rows * cols }, (_, i) => i * 2654435761);
        const output = new Uint32Array(input.length);
        transposeTiled(input, output, batch, rows, cols);
        for (let b = 0; b < batch; b++)
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++) {
              expect(output[b * rows * cols + c * rows + r]).toBe(input[b * rows * cols + r * cols + c]);
            }
      },
    ),
    { numRuns: 30 },
  );
});

test("tf.transpose on wasm equals tfjs's own kernel, bit for bit, for every permutation and dtype", () => {
  const cases: [number[], number[]][] = [
    [
      [37, 70],
      [1, 0],
    ],
    [
      [2, 33, 5],
      [0, 2, 1],
    ],
    [
      [2, 3, 4, 5],
      [0, 2, 1, 3],
    ],
    [
      [2, 3, 4, 5],
      [0, 1, 3, 2],
    ],
    [
      [3, 4],
      [0, 1],
    ],
  ];
  for (const [shape, perm] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: size }, (_, i) =>
        dtype === 'int32' ? i * 7 - 50 : Math.sin(i) * 1e3,
      );
      const x = tf.tensor(values, shape, dtype);
      const ours = tf.transpose(x, perm);
      experimental_setAppKernels(false);
      const theirs = tf.transpose(x, perm);
      experimental_setAppKernels(true);
      expect(ours.shape).toEqual(theirs.shape);
      expect(ours.dtype).toBe(dtype);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
      tf.dispose([x, ours, theirs]);
    }
  }
});
