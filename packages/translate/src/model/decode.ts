import * as tf from '@tensorflow/tfjs-core';
import type { Seq2SeqModel } from '../models/registry.js';
import { type BeamOptions, BeamSearch } from './beam-search.js';
import { topLogProbs } from './kernels/decode-scan.js';
import { disposeState, reorderState } from './marian.js';

/** Options of {@link translateIds}. */
export interface DecodeOptions extends BeamOptions {
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

/**
 * Translates a batch of source id sequences (each ending in EOS) to target ids (without EOS), with greedy
 * decoding (`beam: 1`) or beam search with length penalty. Incremental: the decoder keeps a key/value cache,
 * so each step costs one token per live hypothesis. The search itself (slots, length penalty, cap, early stop) is
 * {@link BeamSearch}; finished hypotheses and done sentences leave the decoder state.
 */
export function translateIds(
  model: Seq2SeqModel,
  sources: number[][],
  options: DecodeOptions = {},
): number[][] {
  const search = new BeamSearch(
    sources.map((s) => s.length),
    model.config,
    options,
  );
  const sourceIds = padBatch(sources, model.config.pad_token_id);
  const encoded = tf.tidy(() => model.encode(sourceIds));
  const state = model.startDecoding(encoded);
  tf.dispose([sourceIds, encoded.hidden, encoded.bias]);

  // Row i of the decoder state is live row i of the search.
  while (!search.done) {
    // (The first step runs the decoder even when its token is forced: it fills the self-attention cache.)
    const ids = tf.tensor1d(search.lastTokens(), 'int32');
    const logits = model.step(state, ids);
    ids.dispose();
    options.onStep?.(search.rows);
    // Each row's `beam` best tokens and their log-probabilities: the search needs no more of the [rows, V] logits.
    const top = topLogProbs(logits, search.width, model.config.pad_token_id);
    logits.dispose();
    const { rows, sameRows, sameSentences } = search.stepTop(top);
    // Cross-attention rows only move when a row changes sentence (hypotheses or sentences dropped).
    if (!search.done && !sameRows) reorderState(state, rows, { cross: !sameSentences });
  }
  disposeState(state);
  return search.best();
}
