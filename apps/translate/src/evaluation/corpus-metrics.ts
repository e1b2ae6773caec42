import { bleuFromStatistics, segmentStatistics, tokenize13a } from './bleu.js';

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

const CHRF_ORDER = 6;
const CHRF_BETA = 2;
const EPS = 1e-16;

function charNgramCounts(text: string, n: number): Map<string, number> {
  const chars = Array.from(text);
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const key = chars.slice(i, i + n).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * chrF2 (character order 6, β = 2, whitespace removed, effective-order averaging: `corpusChrf`'s defaults) from
 * statistics `[hypothesis n-grams, reference n-grams, matches]` per order 1..6.
 *
 * The statistics repeat `chrf.ts`'s private ones (it exports only the score); `corpus-metrics.test.ts` holds
 * the two equal on random corpora.
 */
export const CHRF: CorpusMetric = {
  name: 'chrF2',
  statistics(hypotheses, references) {
    const strip = (s: string) => s.split(/\s+/).join('');
    return hypotheses.map((hypothesis, i) => {
      const [hyp, ref] = [strip(hypothesis), strip(references[i] ?? '')];
      const stats: number[] = [];
      for (let n = 1; n <= CHRF_ORDER; n++) {
        const [h, r] = [charNgramCounts(hyp, n), charNgramCounts(ref, n)];
        let [hypCount, refCount, match] = [0, 0, 0];
        for (const [key, count] of h) {
          hypCount += count;
          match += Math.min(count, r.get(key) ?? 0);
        }
        for (const count of r.values()) refCount += count;
        stats.push(hypCount, refCount, match);
      }
      return stats;
    });
  },
  score(sum) {
    const factor = CHRF_BETA ** 2;
    let [effectiveOrder, precisionSum, recallSum] = [0, 0, 0];
    for (let n = 0; n < CHRF_ORDER; n++) {
      const [hypCount, refCount, match] = [sum[3 * n], sum[3 * n + 1], sum[3 * n + 2]];
      precisionSum += hypCount > 0 ? match / hypCount : EPS;
      recallSum += refCount > 0 ? match / refCount : EPS;
      if (hypCount > 0 && refCount > 0) effectiveOrder += 1;
    }
    if (effectiveOrder === 0) return 0;
    const [precision, recall] = [precisionSum / effectiveOrder, recallSum / effectiveOrder];
    if (precision + recall === 0) return 0;
    return (100 * (1 + factor) * precision * recall) / (factor * precision + recall);
  },
};
