/** chrF as sacreBLEU computes it (defaults: character order 6, no word n-grams, β = 2, whitespace removed). */

export interface ChrfOptions {
  /** Character n-gram order. Default `6`. */
  charOrder?: number;
  /** Recall weight β. Default `2`. */
  beta?: number;
  /** sacreBLEU ≥ 2 epsilon smoothing; `false` (default) averages over the effective order instead. */
  epsSmoothing?: boolean;
  /** Keep whitespace inside character n-grams. Default `false`. */
  keepWhitespace?: boolean;
}

export interface ChrfScore {
  /** chrF in [0, 100]. */
  score: number;
  signature: string;
}

const EPS = 1e-16;

function charNgrams(text: string, n: number): Map<string, number> {
  const chars = Array.from(text);
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const key = chars.slice(i, i + n).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * A segment's chrF sufficient statistics: per character order n = 1..`order`, [hypothesis n-grams, reference
 * n-grams, matches]. Summed over segments they give the corpus score ({@link chrfFromStatistics}); a bootstrap
 * resamples them.
 */
export function chrfStatistics(
  hypothesis: string,
  reference: string,
  order = 6,
  keepWhitespace = false,
): number[] {
  const strip = (s: string) => (keepWhitespace ? s : s.split(/\s+/).join(''));
  const hyp = strip(hypothesis);
  const ref = strip(reference);
  const stats: number[] = [];
  for (let n = 1; n <= order; n++) {
    const h = charNgrams(hyp, n);
    const r = charNgrams(ref, n);
    let hypCount = 0;
    let refCount = 0;
    let match = 0;
    for (const [key, count] of h) {
      hypCount += count;
      match += Math.min(count, r.get(key) ?? 0);
    }
    for (const count of r.values()) refCount += count;
    stats.push(hypCount, refCount, match);
  }
  return stats;
}

/** chrF in [0, 100] from statistics summed as {@link chrfStatistics} gives them. */
export function chrfFromStatistics(
  stats: ArrayLike<number>,
  order = 6,
  beta = 2,
  epsSmoothing = false,
): number {
  const factor = beta ** 2;
  let score = 0;
  let effectiveOrder = 0;
  let precisionSum = 0;
  let recallSum = 0;
  for (let n = 0; n < order; n++) {
    const [hypCount, refCount, match] = [stats[3 * n], stats[3 * n + 1], stats[3 * n + 2]];
    const precision = hypCount > 0 ? match / hypCount : EPS;
    const recall = refCount > 0 ? match / refCount : EPS;
    const denominator = factor * precision + recall;
    score += denominator > 0 ? ((1 + factor) * precision * recall) / denominator : EPS;
    // Only orders both sides have count towards the averages (sacreBLEU's `_compute_f_score`).
    if (hypCount > 0 && refCount > 0) {
      effectiveOrder += 1;
      precisionSum += precision;
      recallSum += recall;
    }
  }
  if (epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) return 0;
  const precision = precisionSum / effectiveOrder;
  const recall = recallSum / effectiveOrder;
  if (precision + recall === 0) return 0;
  return (100 * (1 + factor) * precision * recall) / (factor * precision + recall);
}

/**
 * Corpus chrF: n-gram statistics summed over segments, then the F-β score (sacreBLEU's `corpus_chrf`, one
 * reference stream).
 *
 * @example
 * corpusChrf(['a b c'], [['abc']]).score // 100 (whitespace is ignored)
 */
export function corpusChrf(hypotheses: string[], references: string[], options: ChrfOptions = {}): ChrfScore {
  const order = options.charOrder ?? 6;
  const beta = options.beta ?? 2;
  const epsSmoothing = options.epsSmoothing ?? false;
  const keepWhitespace = options.keepWhitespace ?? false;
  const sum = new Array(3 * order).fill(0);
  hypotheses.forEach((hypothesis, i) => {
    const stats = chrfStatistics(hypothesis, references[i] ?? '', order, keepWhitespace);
    for (let k = 0; k < sum.length; k++) sum[k] += stats[k];
  });
  return {
    score: chrfFromStatistics(sum, order, beta, epsSmoothing),
    signature: `nrefs:1|case:mixed|eff:yes|nc:${order}|nw:0|space:${keepWhitespace ? 'yes' : 'no'}|version:el-translate`,
  };
}

/** Sentence chrF of one hypothesis against one reference. */
export function sentenceChrf(hypothesis: string, reference: string, options: ChrfOptions = {}): ChrfScore {
  return corpusChrf([hypothesis], [reference], options);
}
