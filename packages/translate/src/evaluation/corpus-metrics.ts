import { bleuFromStatistics, segmentStatistics, tokenize13a } from './bleu.js';
import { chrfFromStatistics, chrfStatistics } from './chrf.js';

/**
 * A corpus metric as sacreBLEU's significance tests use one: sufficient statistics per segment (vectors of one
 * length), summed over any multiset of segments, and the corpus score of such a sum. Resampling a test set is then
 * summing the resampled segments' vectors, never re-tokenising a sentence.
 */
export interface CorpusMetric {
  /** `BLEU`, `chrF2`. */
  name: string;
  /** One statistics vector per segment: `hypotheses[i]` against `references[i]`. */
  statistics(hypotheses: readonly string[], references: readonly string[]): number[][];
  /** The corpus score (in [0, 100]) of summed statistics. */
  score(sum: ArrayLike<number>): number;
}

const BLEU_ORDER = 4;

/**
 * Corpus BLEU (13a tokenisation, exp smoothing, one reference) from statistics
 * `[correct₁..₄, total₁..₄, hypothesis length, reference length]`: sums of these give `corpusBleu`'s score.
 */
export const BLEU: CorpusMetric = {
  name: 'BLEU',
  statistics(hypotheses, references) {
    const words = (line: string) => tokenize13a(line).split(/\s+/).filter(Boolean);
    return hypotheses.map((hypothesis, i) => {
      const s = segmentStatistics(words(hypothesis), [words(references[i] ?? '')]);
      return [...s.correct, ...s.total, s.hypothesisLength, s.referenceLength];
    });
  },
  score(sum) {
    const values = Array.from(sum);
    return bleuFromStatistics({
      correct: values.slice(0, BLEU_ORDER),
      total: values.slice(BLEU_ORDER, 2 * BLEU_ORDER),
      hypothesisLength: values[2 * BLEU_ORDER],
      referenceLength: values[2 * BLEU_ORDER + 1],
    }).score;
  },
};

/** chrF2 (character order 6, β = 2, whitespace removed, effective-order averaging: `corpusChrf`'s defaults). */
export const CHRF: CorpusMetric = {
  name: 'chrF2',
  statistics: (hypotheses, references) => hypotheses.map((h, i) => chrfStatistics(h, references[i] ?? '')),
  score: (sum) => chrfFromStatistics(sum),
};
