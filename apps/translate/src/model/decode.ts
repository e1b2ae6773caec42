import * as tf from '@tensorflow/tfjs-core';
import { disposeState, type MarianModel, reorderState } from './marian.js';

/** Options of {@link translateIds}. */
export interface DecodeOptions {
  /** Beam size; `1` is greedy. Default `5`. */
  beam?: number;
  /** Length penalty α: hypotheses are ranked by logP / (length + 1)^α (HF, fairseq). Default `1`. */
  lengthPenalty?: number;
  /**
   * Most generated tokens per sentence (EOS excluded); a hypothesis that reaches it is cut and finished.
   * Default: ⌈1.5 × source length⌉ + 10 per sentence, capped by the model's positions.
   */
  maxLength?: number;
  /**
   * Stop a sentence as soon as no live hypothesis can beat its best finished one under the length penalty (an
   * exact bound, so the result does not change). Default `true`; `false` decodes until every beam has finished.
   */
  stopEarly?: boolean;
  /** Called after each decoder step with the number of hypotheses it ran on (for tests and profiling). */
  onStep?: (rows: number) => void;
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

interface Hypothesis {
  /** The sentence it belongs to. */
  item: number;
  tokens: number[];
  /** Cumulative log-probability. */
  score: number;
}

interface Candidate {
  /** Row of the expanded hypothesis in the current state. */
  row: number;
  token: number;
  score: number;
}

/** Keeps the `k` best candidates, sorted best first (insertion into a short sorted list). */
function pushTop(list: Candidate[], candidate: Candidate, k: number): void {
  if (list.length === k && candidate.score <= list[k - 1].score) return;
  let i = list.length;
  while (i > 0 && list[i - 1].score < candidate.score) i--;
  list.splice(i, 0, candidate);
  if (list.length > k) list.pop();
}

/**
 * Translates a batch of source id sequences (each ending in EOS) to target ids (without EOS), with greedy
 * decoding (`beam: 1`) or beam search with length penalty. Incremental: the decoder keeps a key/value cache,
 * so each step costs one token per live hypothesis.
 *
 * A hypothesis that emits EOS (or reaches the length cap) is final and takes one of its sentence's `beam` slots;
 * the others keep expanding. A sentence is done when all its slots have finished, or (`stopEarly`) when its best
 * finished score cannot be beaten: a live hypothesis with log-probability s ≤ 0 and n tokens ends with a score at
 * most s / L^α, L the longest possible length for α > 0 and n + 1 otherwise. Finished hypotheses and done
 * sentences leave the decoder state, and the batch stops when every sentence is done.
 */
export function translateIds(
  model: MarianModel,
  sources: number[][],
  options: DecodeOptions = {},
): number[][] {
  const beam = options.beam ?? 5;
  const alpha = options.lengthPenalty ?? 1;
  const stopEarly = options.stopEarly ?? true;
  const {
    eos_token_id: eos,
    pad_token_id: pad,
    decoder_start_token_id: start,
    vocab_size: vocab,
  } = model.config;
  const cap = model.config.max_position_embeddings - 1;
  const maxLengths = sources.map((s) =>
    Math.max(1, Math.min(options.maxLength ?? Math.ceil(1.5 * s.length) + 10, cap)),
  );
  const sourceIds = padBatch(sources, pad);
  const encoded = tf.tidy(() => model.encode(sourceIds));
  const state = model.startDecoding(encoded);
  tf.dispose([sourceIds, encoded.hidden, encoded.bias]);

  // live[i] is row i of the decoder state; rows of one sentence are contiguous, sentences in order.
  let live: Hypothesis[] = sources.map((_, item) => ({ item, tokens: [], score: 0 }));
  const finished: { tokens: number[]; score: number }[][] = sources.map(() => []);
  const normalised = (score: number, tokens: number) => score / (tokens + 1) ** alpha;

  while (live.length > 0) {
    const ids = tf.tensor1d(
      live.map((h) => (h.tokens.length ? h.tokens[h.tokens.length - 1] : start)),
      'int32',
    );
    const logits = model.step(state, ids);
    ids.dispose();
    options.onStep?.(live.length);
    const logProbs = logSoftmaxRows(logits);
    logits.dispose();

    const next: Hypothesis[] = [];
    const rows: number[] = [];
    for (let first = 0; first < live.length; ) {
      const item = live[first].item;
      let end = first;
      while (end < live.length && live[end].item === item) end++;
      const slots = beam - finished[item].length;
      // The best `slots` expansions: each either ends (EOS or the cap) and takes a slot, or continues.
      const candidates: Candidate[] = [];
      for (let row = first; row < end; row++) {
        const offset = row * vocab;
        for (let v = 0; v < vocab; v++) {
          if (v !== pad)
            pushTop(candidates, { row, token: v, score: live[row].score + logProbs[offset + v] }, slots);
        }
      }
      const continuing: Candidate[] = [];
      for (const c of candidates) {
        const tokens = live[c.row].tokens;
        if (c.token === eos) {
          finished[item].push({ tokens, score: normalised(c.score, tokens.length) });
        } else if (tokens.length + 1 >= maxLengths[item]) {
          finished[item].push({
            tokens: [...tokens, c.token],
            score: normalised(c.score, tokens.length + 1),
          });
        } else continuing.push(c);
      }
      let done = finished[item].length >= beam || continuing.length === 0;
      if (!done && stopEarly && finished[item].length > 0) {
        const best = Math.max(...finished[item].map((f) => f.score));
        const longest = maxLengths[item] + 1;
        const bound = Math.max(
          ...continuing.map((c) =>
            alpha > 0 ? c.score / longest ** alpha : normalised(c.score, live[c.row].tokens.length + 1),
          ),
        );
        done = best >= bound;
      }
      if (!done) {
        for (const c of continuing) {
          next.push({ item, tokens: [...live[c.row].tokens, c.token], score: c.score });
          rows.push(c.row);
        }
      }
      first = end;
    }
    if (next.length > 0) {
      const sameRows = rows.length === live.length && rows.every((row, i) => row === i);
      // Cross-attention rows only move when a row changes sentence (hypotheses or sentences dropped).
      const sameSentences =
        rows.length === live.length && rows.every((row, i) => live[row].item === live[i].item);
      if (!sameRows) reorderState(state, rows, { cross: !sameSentences });
    }
    live = next;
  }
  disposeState(state);
  return finished.map((list) =>
    list.length === 0 ? [] : list.reduce((best, f) => (f.score > best.score ? f : best)).tokens,
  );
}
