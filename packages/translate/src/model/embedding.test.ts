import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, expect, test } from 'vitest';
import { initBackend } from '../training/backend.js';
import { addEmbeddingGradient, embeddingLookup, tableRows, withEmbeddingRows } from './marian.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const bits = (a: Float32Array) => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

// The table's gradient of Σ lookup(table, ids) ⊙ dy, added to a gradient G0 already there (the output projection's):
// dense (the lookup's own gradient, a [V, d] tensor) and per token (the rows' gradient, then addEmbeddingGradient).
test('the lookup gradient per token, added to the table gradient, has the bits of the dense one (and is Σ dy)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 1, max: 24 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 9 }),
      fc.option(fc.integer({ min: 0, max: 1 }), { nil: undefined }),
      fc.integer({ min: 0, max: 10_000 }),
      (vocab, dim, b, l, padRow, seed) => {
        const padding = padRow === undefined ? undefined : padRow * (vocab - 1);
        const random = (i: number) => Math.floor(((Math.sin(seed + i) + 1) / 2) * vocab) % vocab;
        const idList = Array.from({ length: b * l }, (_, i) => random(i)); // repeats, and the padding id, likely
        tf.tidy(() => {
          const table = tf.variable(tf.randomNormal([vocab, dim], 0, 1, 'float32', seed));
          const ids = tf.tensor2d(idList, [b, l], 'int32');
          const dy = tf.randomNormal([b, l, dim], 0, 1, 'float32', seed + 1);
          const g0 = tf.randomNormal([vocab, dim], 0, 1, 'float32', seed + 2).dataSync() as Float32Array;

          const dense = tf.grad((t: tf.Tensor) =>
            tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids, padding), dy)),
          )(table);
          const expected = Float32Array.from(g0);
          const d = dense.dataSync();
          for (let i = 0; i < expected.length; i++) expected[i] += d[i];

          const rows = tf.variable(tableRows(table, ids));
          const lookups = new Map([[ids, rows]]);
          const { grads } = tf.variableGrads(
            () => withEmbeddingRows(lookups, () => tf.sum(tf.mul(embeddingLookup(table, ids, padding), dy))),
            [rows],
          );
          const got = Float32Array.from(g0);
          addEmbeddingGradient(got, idList, grads[rows.name].dataSync() as Float32Array, dim, padding);
          expect(bits(got).findIndex((v, i) => v !== bits(expected)[i])).toBe(-1);

          // Against the definition, in float64: row v gains Σ_{i: ids_i = v ≠ padding} dy_i.
          const up = dy.dataSync();
          const truth = Float64Array.from(g0);
          idList.forEach((id, i) => {
            if (id === padding) return;
            for (let j = 0; j < dim; j++) truth[id * dim + j] += up[i * dim + j];
          });
          for (let i = 0; i < truth.length; i++) {
            expect(Math.abs(got[i] - truth[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(truth[i])) * b * l);
          }
          rows.dispose();
          table.dispose();
        });
      },
    ),
    { numRuns: 40 },
  );
});

test('the looked-up rows are the table rows, in order; a lookup of other ids still gathers', () => {
  tf.tidy(() => {
    const table = tf.tensor2d([0, 1, 10, 11, 20, 21, 30, 31], [4, 2]);
    const ids = tf.tensor2d([3, 0, 2, 2], [2, 2], 'int32');
    expect(Array.from(tableRows(table, ids).dataSync())).toEqual([30, 31, 0, 1, 20, 21, 20, 21]);
    const other = tf.tensor2d([1], [1, 1], 'int32');
    const rows = tf.fill([4, 2], 7);
    withEmbeddingRows(new Map([[ids, rows]]), () => {
      expect(Array.from(embeddingLookup(table, ids).dataSync())).toEqual(new Array(8).fill(7));
      expect(Array.from(embeddingLookup(table, other).dataSync())).toEqual([10, 11]);
    });
    expect(Array.from(embeddingLookup(table, ids).dataSync())).toEqual([30, 31, 0, 1, 20, 21, 20, 21]);
  });
});

test('a token id outside the vocabulary is INVALID_DATA naming it (a gather would read past the table)', () => {
  tf.tidy(() => {
    const table = tf.zeros([5, 3]) as tf.Tensor2D;
    for (const bad of [5, -1, 1e6]) {
      const ids = tf.tensor2d([0, 1, bad, 2], [2, 2], 'int32');
      const error = expect.objectContaining({
        code: 'INVALID_DATA',
        message: expect.stringContaining(`token id ${bad} (position 2 of the batch)`),
      });
      expect(() => embeddingLookup(table, ids)).toThrow(error);
      expect(() => tableRows(table, ids)).toThrow(error);
    }
  });
});
