import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from './backend.js';
import { makeConfig } from './config.js';
import { padBatch, translateIds } from './decode.js';
import { MarianModel } from './model.js';
import { Rng } from './rng.js';

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

  test('no tensors leak', () => {
    const before = tf.memory().numTensors;
    translateIds(model, sources, { beam: 3, maxLength: 4 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
