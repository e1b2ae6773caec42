import * as tf from '@tensorflow/tfjs-core';
import { padBatch } from '../../model/decode.js';
import { disposeState } from '../../model/marian.js';
import type { M2M100Model } from './modeling.js';

/** Options of {@link greedyGenerate}. */
export interface GreedyOptions {
  /** The first generated token (HF `forced_bos_token_id`: the target language's id). */
  forcedBosTokenId: number;
  /** Most generated tokens per sentence, the forced one and `</s>` included. */
  maxNewTokens: number;
}

/**
 * HF `generate(num_beams=1, forced_bos_token_id=…)` for a batch of source id sequences: the decoder starts from
 * `decoder_start_token_id`, the first generated token is `forcedBosTokenId` (HF's ForcedBOSTokenLogitsProcessor),
 * then each row takes the argmax until it emits `</s>`; finished rows are fed `<pad>` while the others go on, as
 * HF does. Returns each sentence's generated tokens (forced token first, `</s>` kept when emitted).
 */
export function greedyGenerate(model: M2M100Model, sources: number[][], options: GreedyOptions): number[][] {
  const { config } = model;
  const sourceIds = padBatch(sources, config.pad_token_id);
  const encoded = tf.tidy(() => model.encode(sourceIds));
  const state = model.startDecoding(encoded);
  tf.dispose([sourceIds, encoded.hidden, encoded.bias]);
  const outputs: number[][] = sources.map(() => []);
  const done = sources.map(() => false);
  let last = sources.map(() => config.decoder_start_token_id);
  for (let step = 0; step < options.maxNewTokens && done.some((d) => !d); step++) {
    const ids = tf.tensor1d(last, 'int32');
    const logits = model.step(state, ids);
    const argMax = step === 0 ? undefined : tf.argMax(logits, 1);
    const best = argMax?.dataSync();
    tf.dispose([ids, logits, ...(argMax ? [argMax] : [])]);
    last = last.map((_, row) => {
      if (done[row]) return config.pad_token_id;
      const token = best ? best[row] : options.forcedBosTokenId;
      outputs[row].push(token);
      if (token === config.eos_token_id) done[row] = true;
      return token;
    });
  }
  disposeState(state);
  return outputs;
}
