import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { makeConfig } from './config.js';
import { padBatch, translateIds } from './decode.js';
import { type DecoderState, MarianModel } from './marian.js';

const VOCAB = 6; // 0 pad, 1 eos, 2..5 words
let model: MarianModel;

beforeAll(async () => {
  await initBackend('wasm');
  model = new MarianModel({ ...makeConfig(VOCAB, 'tiny'), init_std: 0.5 }, new Rng(11));
});

/** log P(tokens) under teacher forcing, from the full (non-incremental) decoder. */
function sequenceLogProb(source: number[], tokens: number[]): number {
  return tf.tidy(() => {
    const input = [model.config.decoder_start_token_id, ...tokens.slice(0, -1)];
    const logits = model.decode(padBatch([input], 0), model.encode(padBatch([source], 0)));
    const logProbs = tf.logSoftmax(tf.reshape(logits, [tokens.length, VOCAB])).arraySync() as number[][];
    return tokens.reduce((sum, token, i) => sum + logProbs[i][token], 0);
  });
}

describe('decoding on a tiny random model', () => {
  const sources = [
    [2, 3, 4, 1],
    [5, 1],
    [3, 3, 2, 5, 4, 1],
  ];

  test('greedy (beam 1) equals argmax decoding with the full decoder, so the key/value cache is right', () => {
    const greedy = translateIds(model, sources, { beam: 1, maxLength: 6 });
    sources.forEach((source, b) => {
      const tokens: number[] = [];
      for (let t = 0; t < 6; t++) {
        const next = tf.tidy(() => {
          const input = [model.config.decoder_start_token_id, ...tokens];
          const logits = model.decode(padBatch([input], 0), model.encode(padBatch([source], 0)));
          // Pad is never generated.
          const last = tf.slice(
            tf.reshape(logits, [input.length, VOCAB]),
            [input.length - 1, 1],
            [1, VOCAB - 1],
          );
          return (tf.argMax(tf.reshape(last, [-1])).dataSync()[0] as number) + 1;
        });
        if (next === 1) break;
        tokens.push(next);
      }
      expect(greedy[b]).toEqual(tokens);
    });
  });

  test('a wide beam finds the exhaustive-search optimum (α = 0, length ≤ 3)', () => {
    const wide = translateIds(model, sources, { beam: 40, maxLength: 3, lengthPenalty: 0 });
    sources.forEach((source, b) => {
      // Every finished hypothesis: w (length < 3) + EOS, or any 3 words (cut at maxLength).
      let best = { tokens: [] as number[], score: -Infinity };
      const words = [2, 3, 4, 5];
      const consider = (output: number[], scored: number[]) => {
        const score = sequenceLogProb(source, scored);
        if (score > best.score) best = { tokens: output, score };
      };
      consider([], [1]);
      for (const a of words) {
        consider([a], [a, 1]);
        for (const c of words) {
          consider([a, c], [a, c, 1]);
          for (const d of words) consider([a, c, d], [a, c, d]);
        }
      }
      expect(wide[b]).toEqual(best.tokens);
    });
  });

  test('beam 5 scores at least as well as greedy under the same length-normalised objective', () => {
    const greedy = translateIds(model, sources, { beam: 1, maxLength: 5, lengthPenalty: 1 });
    const beam = translateIds(model, sources, { beam: 5, maxLength: 5, lengthPenalty: 1 });
    const score = (source: number[], tokens: number[]) => {
      const withEos = tokens.length < 5 ? [...tokens, 1] : tokens;
      return sequenceLogProb(source, withEos) / (tokens.length + 1);
    };
    sources.forEach((source, b) => {
      expect(score(source, beam[b])).toBeGreaterThanOrEqual(score(source, greedy[b]) - 1e-5);
    });
  });

  test('beam 1 is greedy; outputs never contain EOS or padding; early stopping leaves the result unchanged', () => {
    for (const beam of [1, 3, 5]) {
      const early = translateIds(model, sources, { beam, maxLength: 8 });
      expect(translateIds(model, sources, { beam, maxLength: 8, stopEarly: false })).toEqual(early);
      for (const tokens of early) expect(tokens.filter((t) => t <= 1)).toEqual([]);
    }
  });

  test('no tensors leak', () => {
    const before = tf.memory().numTensors;
    translateIds(model, sources, { beam: 3, maxLength: 4 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

/**
 * A scripted decoder: at position t, sentence b's next token is `wanted[b][t]` (EOS right after its end, then
 * word 2) with probability 0.9, whatever came before; EOS elsewhere has probability 1e-4, the rest is spread over the other words. The
 * state's bias rows hold each row's sentence, so translateIds's reordering and dropping of rows decides which
 * distribution a row gets.
 */
function scriptedModel(wanted: number[][]): MarianModel {
  const vocab = 6;
  const config = { ...makeConfig(vocab, 'tiny'), max_position_embeddings: 64 };
  return {
    config,
    encode: (ids: tf.Tensor2D) => {
      const rows = ids.shape[0];
      return {
        hidden: tf.zeros([rows, 1, 1]) as tf.Tensor3D,
        bias: tf.tensor4d(
          Array.from({ length: rows }, (_, b) => b),
          [rows, 1, 1, 1],
        ),
      };
    },
    startDecoding: (encoded: { bias: tf.Tensor4D }): DecoderState => ({
      layers: [],
      bias: tf.clone(encoded.bias),
      length: 0,
    }),
    step: (state: DecoderState, ids: tf.Tensor1D) => {
      const items = state.bias.dataSync();
      const logProbs = new Float32Array(ids.shape[0] * vocab);
      items.forEach((item, row) => {
        const w = wanted[item];
        const next = state.length < w.length ? w[state.length] : state.length === w.length ? 1 : 2;
        const eos = next === 1 ? 0.9 : 1e-4;
        const rest = (1 - 0.9 - (next === 1 ? 0 : eos)) / (next === 1 ? 4 : 3);
        for (let v = 0; v < vocab; v++) {
          const p = v === 0 ? 0 : v === next ? 0.9 : v === 1 ? eos : rest;
          logProbs[row * vocab + v] = Math.log(p);
        }
      });
      state.length += 1;
      return tf.tensor2d(logProbs, [ids.shape[0], vocab]);
    },
  } as unknown as MarianModel;
}

describe('stopping', () => {
  const wanted = [[2, 3, 4], [5], [3, 3, 2, 5, 4, 2, 3], []];
  const sources = wanted.map(() => [2, 1]);

  test('greedy stops each row at its EOS: rows per step shrink, the batch ends after the longest', () => {
    const rows: number[] = [];
    const out = translateIds(scriptedModel(wanted), sources, {
      beam: 1,
      maxLength: 30,
      onStep: (n) => rows.push(n),
    });
    expect(out).toEqual(wanted);
    // Sentence b is live for |wanted[b]| + 1 steps (its words, then EOS).
    const live = (t: number) => wanted.filter((w) => w.length + 1 > t).length;
    expect(rows).toEqual(Array.from({ length: 8 }, (_, t) => live(t)));
  });

  test('beam search stops once no live hypothesis can win, with the same result as decoding to the end', () => {
    const steps = (stopEarly: boolean) => {
      const rows: number[] = [];
      const out = translateIds(scriptedModel(wanted), sources, {
        beam: 4,
        maxLength: 30,
        stopEarly,
        onStep: (n) => rows.push(n),
      });
      return { out, rows };
    };
    const early = steps(true);
    const full = steps(false);
    expect(early.out).toEqual(wanted);
    expect(full.out).toEqual(wanted);
    // Decoding to the end runs the 30-token cap; the exact bound stops right after the longest sentence's EOS.
    expect(full.rows.length).toBe(30);
    expect(early.rows.length).toBe(8);
    expect(early.rows.reduce((a, b) => a + b, 0)).toBeLessThan(full.rows.reduce((a, b) => a + b, 0) / 2);
  });
});
