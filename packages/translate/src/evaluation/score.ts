import type { SentencePair } from '../data/data.js';
import { invalidData } from '../errors.js';
import type { Seq2SeqModel } from '../models/registry.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { scoreExamples } from '../training/trainer.js';

/** Teacher-forced scores of one sentence, or of a corpus (sums over its sentences). */
export interface Score {
  /** Σ log p(y_t | y_<t, x) over the target tokens, `</s>` included (natural log). */
  logProb: number;
  /** Target tokens scored (`</s>` included). */
  tokens: number;
  /** −logProb / tokens. */
  nll: number;
  /** exp(nll). */
  perplexity: number;
}

const score = (logProb: number, tokens: number): Score => {
  const nll = -logProb / Math.max(1, tokens);
  return { logProb, tokens, nll, perplexity: Math.exp(nll) };
};

/**
 * Teacher-forced log-probabilities of each target given its source (HF `MarianMTModel` semantics: labels from the
 * target tokenizer with `</s>`, decoder inputs shifted right from `decoder_start_token_id`, sources padded and
 * masked with the config's pad). No pairs is `INVALID_DATA` (a perplexity of 1 over nothing is no score). The corpus NLL is Σ −log p over all tokens ÷ their count: the loss's
 * `crossEntropy` component at ε = 0 per token. A sentence longer than the model's positions is `INVALID_DATA`
 * naming `file:line`.
 */
export function scoreCorpus(
  model: Seq2SeqModel,
  tokenizer: SubwordTokenizer,
  pairs: readonly SentencePair[],
  options: { file?: string; maxTokens?: number; onBatch?: (done: number) => void } = {},
): { sentences: Score[]; corpus: Score } {
  if (pairs.length === 0) invalidData(`${options.file ?? 'data'} has no sentence pairs to score.`);
  const limit = model.config.max_position_embeddings;
  const examples = pairs.map((p, i) => {
    const example = { source: tokenizer.encodeSource(p.source), target: tokenizer.encodeTarget(p.target) };
    const longest = Math.max(example.source.length, example.target.length);
    if (longest > limit) {
      invalidData(
        `${options.file ?? 'data'}:${i + 1}: ${longest} tokens, more than the model's ${limit} positions (max_position_embeddings).`,
      );
    }
    return example;
  });
  const raw = scoreExamples(model, examples, { maxTokens: options.maxTokens, onBatch: options.onBatch });
  const sentences = raw.map((s) => score(s.logProb, s.tokens));
  const corpus = score(
    raw.reduce((a, s) => a + s.logProb, 0),
    raw.reduce((a, s) => a + s.tokens, 0),
  );
  return { sentences, corpus };
}
