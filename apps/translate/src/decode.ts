import * as tf from '@tensorflow/tfjs-core';
import { disposeState, type MarianModel, reorderState } from './model.js';

/** Options of {@link translateIds}. */
export interface DecodeOptions {
  /** Beam size; `1` is greedy. Default `5`. */
  beam?: number;
  /** Length penalty α: hypotheses are ranked by logP / length^α (HF, fairseq). Default `1`. */
  lengthPenalty?: number;
  /** Stop after this many generated tokens (EOS excluded). Default: 2 × source length + 10. */
  maxLength?: number;
}

/** Pads id sequences into a `[B, L]` int32 tensor. */
export function padBatch(sequences: readonly number[][], padId: number): tf.Tensor2D {
  const length = Math.max(1, ...sequences.map((s) => s.length));
  const data = new Int32Array(sequences.length * length).fill(padId);
  sequences.forEach((s, i) => {
    data.set(s, i * length);
  });
  return tf.tensor2d(data, [sequences.length, length], 'int32');
}

function logSoftmaxRows(logits: tf.Tensor2D): Float32Array {
  const logProbs = tf.logSoftmax(logits);
  const data = logProbs.dataSync() as Float32Array;
  logProbs.dispose();
  return data;
}

/**
 * Translates a batch of source id sequences (each ending in EOS) to target ids (without EOS), with greedy
 * decoding (`beam: 1`) or beam search with length penalty. Incremental: the decoder keeps a key/value cache,
 * so each step costs one token per hypothesis.
 */
export function translateIds(
  model: MarianModel,
  sources: number[][],
  options: DecodeOptions = {},
): number[][] {
  const beam = options.beam ?? 5;
  const alpha = options.lengthPenalty ?? 1;
  const {
    eos_token_id: eos,
    pad_token_id: pad,
    decoder_start_token_id: start,
    vocab_size: vocab,
  } = model.config;
  const batch = sources.length;
  const maxLength = Math.min(
    options.maxLength ?? Math.max(...sources.map((s) => s.length)) * 2 + 10,
    model.config.max_position_embeddings - 1,
  );
  const sourceIds = padBatch(sources, pad);
  const encoded = tf.tidy(() => model.encode(sourceIds));
  // Each sentence's source row is repeated `beam` times: row b·beam + k is hypothesis k of sentence b.
  const expanded = tf.tidy(() => {
    const rows = tf.tensor1d(
      Array.from({ length: batch * beam }, (_, i) => Math.floor(i / beam)),
      'int32',
    );
    return { hidden: tf.gather(encoded.hidden, rows), bias: tf.gather(encoded.bias, rows) };
  });
  tf.dispose([sourceIds, encoded.hidden, encoded.bias]);
  const state = model.startDecoding(expanded);
  tf.dispose([expanded.hidden, expanded.bias]);

  const tokens: number[][] = Array.from({ length: batch * beam }, () => []);
  // Only hypothesis 0 of each sentence is live at first, so the first step does not pick k copies of one token.
  const scores = Array.from({ length: batch * beam }, (_, i) => (i % beam === 0 ? 0 : -Infinity));
  const finished: { tokens: number[]; score: number }[][] = Array.from({ length: batch }, () => []);
  const done = new Array(batch).fill(false);
  let last = new Int32Array(batch * beam).fill(start);

  for (let t = 0; t < maxLength && done.some((d) => !d); t++) {
    const ids = tf.tensor1d(last, 'int32');
    const logits = model.step(state, ids);
    ids.dispose();
    const logProbs = logSoftmaxRows(logits);
    logits.dispose();
    const nextRows: number[] = [];
    const nextTokens: number[] = [];
    const nextScores: number[] = [];
    const nextHistories: number[][] = [];
    for (let b = 0; b < batch; b++) {
      if (done[b]) {
        for (let k = 0; k < beam; k++) {
          nextRows.push(b * beam);
          nextTokens.push(pad);
          nextScores.push(-Infinity);
          nextHistories.push([]);
        }
        continue;
      }
      // Top 2·beam (row, token) candidates by cumulative log-probability.
      const candidates: { row: number; token: number; score: number }[] = [];
      for (let k = 0; k < beam; k++) {
        const row = b * beam + k;
        if (scores[row] === -Infinity) continue;
        const offset = row * vocab;
        for (let v = 0; v < vocab; v++) {
          if (v === pad) continue;
          const score = scores[row] + logProbs[offset + v];
          if (candidates.length < 2 * beam || score > candidates[candidates.length - 1].score) {
            candidates.push({ row, token: v, score });
            candidates.sort((x, y) => y.score - x.score);
            if (candidates.length > 2 * beam) candidates.pop();
          }
        }
      }
      const live: typeof candidates = [];
      for (const [rank, c] of candidates.entries()) {
        if (c.token === eos || t === maxLength - 1) {
          if (rank >= beam) continue; // an ending counts only among the top `beam` candidates (fairseq)
          const hypothesis = c.token === eos ? tokens[c.row] : [...tokens[c.row], c.token];
          const length = hypothesis.length + 1;
          if (finished[b].length < beam)
            finished[b].push({ tokens: hypothesis, score: c.score / length ** alpha });
        } else if (live.length < beam) live.push(c);
        if (live.length === beam && finished[b].length >= beam) break;
      }
      // fairseq's stopping rule: a sentence is done once it has `beam` finished hypotheses.
      if (finished[b].length >= beam || live.length === 0) done[b] = true;
      for (let k = 0; k < beam; k++) {
        const c = live[k];
        nextRows.push(c ? c.row : b * beam);
        nextTokens.push(c ? c.token : pad);
        nextScores.push(c ? c.score : -Infinity);
        nextHistories.push(c ? [...tokens[c.row], c.token] : []);
      }
    }
    if (nextRows.some((row, i) => row !== i)) {
      reorderState(state, nextRows);
    }
    last = Int32Array.from(nextTokens);
    nextScores.forEach((s, i) => {
      scores[i] = s;
      tokens[i] = nextHistories[i];
    });
  }
  disposeState(state);
  return finished.map((list, b) => {
    if (list.length === 0) return tokens[b * beam];
    return list.reduce((best, f) => (f.score > best.score ? f : best)).tokens;
  });
}
