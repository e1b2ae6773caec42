import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../training/backend.js';
import { BeamSearch, type RowCandidates } from '../beam-search.js';
import {
  APPEND_CACHE_KERNEL,
  appendCache,
  DECODE_SCAN_KERNEL,
  gatherRows,
  topLogProbs,
} from './decode-scan.js';
import { experimental_setAppKernels } from './switch.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

afterEach(() => experimental_setAppKernels(true));

/** Row-wise top-k by (logit desc, id asc) without `skip`, and log-softmax in float64, from the definition. */
function reference(logits: Float32Array, rows: number, vocab: number, k: number, skip: number) {
  const out: { tokens: number[]; logProbs: number[] }[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    const ids = row
      .map((_, v) => v)
      .filter((v) => v !== skip)
      .sort((a, b) => (row[a] === row[b] ? a - b : row[a] > row[b] ? -1 : 1))
      .slice(0, k);
    out.push({ tokens: ids, logProbs: ids.map((v) => row[v] - lse) });
  }
  return out;
}

/** Logits with ties (a few distinct values), wide ranges (exp underflows below −87) and masked (−∞) ids. */
const logitsArbitrary = (rows: number, vocab: number) =>
  fc.array(
    fc.oneof(
      fc.integer({ min: -3, max: 3 }),
      fc.double({ min: -120, max: 40, noNaN: true }),
      fc.constant(Number.NEGATIVE_INFINITY),
    ),
    { minLength: rows * vocab, maxLength: rows * vocab },
  );

const scanCase = fc
  .record({
    rows: fc.integer({ min: 1, max: 4 }),
    vocab: fc.integer({ min: 1, max: 70 }),
    k: fc.integer({ min: 1, max: 8 }),
  })
  .chain(({ rows, vocab, k }) =>
    fc.record({
      rows: fc.constant(rows),
      vocab: fc.constant(vocab),
      k: fc.constant(k),
      skip: fc.integer({ min: -1, max: vocab - 1 }),
      values: logitsArbitrary(rows, vocab),
    }),
  )
  // A row needs one finite logit for its distribution to exist.
  .filter(({ rows, vocab, values }) =>
    Array.from({ length: rows }, (_, r) => values.slice(r * vocab, (r + 1) * vocab)).every((row) =>
      row.some(Number.isFinite),
    ),
  );

describe.each([
  ['the wasm kernel', true],
  ['the JS path', false],
])('topLogProbs, %s', (_, kernels) => {
  test('the k best ids (lower id first among equal logits) and their float64 log-softmax', () => {
    experimental_setAppKernels(kernels);
    fc.assert(
      fc.property(scanCase, ({ rows, vocab, k, skip, values }) => {
        const logits = tf.tensor2d(values, [rows, vocab], 'float32');
        const data = logits.dataSync() as Float32Array;
        const top = topLogProbs(logits, k, skip);
        logits.dispose();
        reference(data, rows, vocab, k, skip).forEach((want, r) => {
          expect(top.counts[r]).toBe(want.tokens.length);
          expect([...top.tokens.subarray(r * k, r * k + top.counts[r])]).toEqual(want.tokens);
          want.logProbs.forEach((logProb, i) => {
            const got = top.logProbs[r * k + i];
            if (logProb === Number.NEGATIVE_INFINITY) expect(got).toBe(logProb);
            else expect(Math.abs(got - logProb)).toBeLessThan(1e-6);
          });
        });
      }),
      { numRuns: 300 },
    );
  });

  test('an OPUS-MT-sized row (58101 ids) agrees with the float64 definition', () => {
    experimental_setAppKernels(kernels);
    const logits = tf.randomNormal([3, 58101], 0, 4, 'float32', 7) as tf.Tensor2D;
    const data = logits.dataSync() as Float32Array;
    const top = topLogProbs(logits, 6, 58100);
    logits.dispose();
    reference(data, 3, 58101, 6, 58100).forEach((want, r) => {
      expect([...top.tokens.subarray(r * 6, r * 6 + 6)]).toEqual(want.tokens);
      want.logProbs.forEach((logProb, i) => {
        expect(Math.abs(top.logProbs[r * 6 + i] - logProb)).toBeLessThan(1e-6);
      });
    });
  });
});

test('the kernels run on wasm (not the fallback)', async () => {
  const logits = tf.randomNormal([2, 9]) as tf.Tensor2D;
  const cache = tf.randomNormal([2, 2, 3, 4]) as tf.Tensor4D;
  const fresh = tf.randomNormal([2, 2, 1, 4]) as tf.Tensor4D;
  const info = await tf.profile(() => {
    topLogProbs(logits, 2, 0);
    appendCache(cache, fresh).dispose();
  });
  expect(info.kernelNames).toEqual(expect.arrayContaining([DECODE_SCAN_KERNEL, APPEND_CACHE_KERNEL]));
  tf.dispose([logits, cache, fresh]);
});

describe('cache copies', () => {
  test('gatherRows equals tf.gather and appendCache equals gather then concat, bit for bit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 1e6 }),
        (n, heads, t, headDim, picks, seed) => {
          tf.tidy(() => {
            const order = picks.map((p) => p % n);
            const rows = tf.tensor1d(order, 'int32');
            const cache = tf.randomNormal([n, heads, t, headDim], 0, 1, 'float32', seed) as tf.Tensor4D;
            const fresh = tf.randomNormal(
              [order.length, heads, 1, headDim],
              0,
              1,
              'float32',
              seed + 1,
            ) as tf.Tensor4D;
            const same = tf.randomNormal([n, heads, 1, headDim], 0, 1, 'float32', seed + 2) as tf.Tensor4D;
            expect(gatherRows(cache, rows).arraySync()).toEqual(tf.gather(cache, rows).arraySync());
            expect(appendCache(cache, fresh, rows).arraySync()).toEqual(
              tf.concat([tf.gather(cache, rows), fresh], 2).arraySync(),
            );
            expect(appendCache(cache, same).arraySync()).toEqual(tf.concat([cache, same], 2).arraySync());
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('BeamSearch.stepTop', () => {
  const config = {
    eos_token_id: 1,
    pad_token_id: 0,
    decoder_start_token_id: 0,
    vocab_size: 7,
    max_position_embeddings: 64,
  };

  /** Each row's best `k` tokens of a full [rows, V] matrix (pad excluded, ties by id), as RowCandidates. */
  function candidates(logProbs: Float64Array, rows: number, k: number): RowCandidates {
    const V = config.vocab_size;
    const counts = new Int32Array(rows);
    const tokens = new Int32Array(rows * k);
    const values = new Float64Array(rows * k);
    for (let r = 0; r < rows; r++) {
      const ids = Array.from({ length: V }, (_, v) => v)
        .filter((v) => v !== config.pad_token_id)
        .sort((a, b) => logProbs[r * V + b] - logProbs[r * V + a] || a - b)
        .slice(0, k);
      counts[r] = ids.length;
      ids.forEach((v, i) => {
        tokens[r * k + i] = v;
        values[r * k + i] = logProbs[r * V + v];
      });
    }
    return { k, counts, tokens, logProbs: values };
  }

  test('moves and results equal step() on the whole distribution (ties and EOS included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 400, maxLength: 400 }),
        (beam, maxLength, sentences, stopEarly, draws) => {
          const options = { beam, maxLength, stopEarly, lengthPenalty: 1 };
          const lengths = Array.from({ length: sentences }, () => 3);
          const full = new BeamSearch(lengths, config, options);
          const top = new BeamSearch(lengths, config, options);
          let d = 0;
          while (!full.done) {
            expect(top.rows).toBe(full.rows);
            // Log-probabilities from a few levels, so equal scores are common.
            const logProbs = Float64Array.from(
              { length: full.rows * config.vocab_size },
              () => -draws[d++ % 400] / 2,
            );
            const k = Math.max(top.width, 1 + (draws[d % 400] % 3));
            expect(top.stepTop(candidates(logProbs, top.rows, k))).toEqual(full.step(logProbs));
          }
          expect(top.done).toBe(true);
          expect(top.best()).toEqual(full.best());
        },
      ),
      { numRuns: 300 },
    );
  });

  test('too few tokens per row for the beam is an error', () => {
    const search = new BeamSearch([3], config, { beam: 3 });
    expect(() => search.stepTop({ k: 2, counts: [2], tokens: [2, 3], logProbs: [-1, -2] })).toThrow(/beam 3/);
  });
});

test('the checked-in module is what decode-build-wasm.mjs assembles', () => {
  const script = fileURLToPath(new URL('decode-build-wasm.mjs', import.meta.url));
  const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
});
