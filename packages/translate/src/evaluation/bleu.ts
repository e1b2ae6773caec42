/** Corpus BLEU as sacreBLEU computes it (defaults: 13a tokenisation, exp smoothing, max order 4). */

export type BleuTokenize = '13a' | 'none';
export type BleuSmoothing = 'exp' | 'floor' | 'none';

/** Options of {@link corpusBleu}; defaults are sacreBLEU's. */
export interface BleuOptions {
  /** `'13a'` (mteval-v13a, default) or `'none'` (split on whitespace). */
  tokenize?: BleuTokenize;
  /** `'exp'` (default), `'floor'` or `'none'`. */
  smoothMethod?: BleuSmoothing;
  /** Numerator of a zero precision under `'floor'`. Default `0.1`. */
  smoothValue?: number;
  /** Average only over the orders the hypothesis has n-grams for (sentence BLEU). Default `false`. */
  effectiveOrder?: boolean;
  /** Lower-case both sides first. Default `false`. */
  lowercase?: boolean;
}

/** Sufficient statistics of BLEU. */
export interface BleuStatistics {
  /** Clipped n-gram matches per order 1..4. */
  correct: number[];
  /** Hypothesis n-grams per order 1..4. */
  total: number[];
  hypothesisLength: number;
  referenceLength: number;
}

export interface BleuScore extends BleuStatistics {
  /** BLEU in [0, 100]. */
  score: number;
  /** Precisions per order, in percent. */
  precisions: number[];
  brevityPenalty: number;
  /** sacreBLEU-style signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:el-translate`. */
  signature: string;
}

const MAX_ORDER = 4;

const RULES_13A: [RegExp, string][] = [
  // Western punctuation and symbols become their own tokens.
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  // Period and comma split off unless they sit inside a number.
  [/([^0-9])([.,])/g, '$1 $2 '],
  [/([.,])([^0-9])/g, ' $1 $2'],
  [/([0-9])(-)/g, '$1 $2 '],
];

/** mteval-v13a tokenisation, as sacreBLEU's `13a` tokenizer. */
export function tokenize13a(line: string): string {
  let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (text.includes('&')) {
    text = text
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>');
  }
  text = ` ${text} `;
  for (const [pattern, replacement] of RULES_13A) text = text.replace(pattern, replacement);
  return text.split(/\s+/).filter(Boolean).join(' ');
}

function ngramCounts(tokens: string[], order: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= order; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = `${n}\u0001${tokens.slice(i, i + n).join('\u0001')}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Statistics of one segment against its references (closest reference length, shorter on ties). */
export function segmentStatistics(hypothesis: string[], references: string[][]): BleuStatistics {
  const hypCounts = ngramCounts(hypothesis, MAX_ORDER);
  const maxRef = new Map<string, number>();
  let referenceLength = 0;
  let bestDiff = Number.POSITIVE_INFINITY;
  for (const reference of references) {
    const diff = Math.abs(reference.length - hypothesis.length);
    if (diff < bestDiff || (diff === bestDiff && reference.length < referenceLength)) {
      bestDiff = diff;
      referenceLength = reference.length;
    }
    for (const [key, count] of ngramCounts(reference, MAX_ORDER)) {
      if (count > (maxRef.get(key) ?? 0)) maxRef.set(key, count);
    }
  }
  const correct = new Array(MAX_ORDER).fill(0);
  const total = new Array(MAX_ORDER).fill(0);
  for (let n = 1; n <= MAX_ORDER; n++) total[n - 1] = Math.max(hypothesis.length - n + 1, 0);
  for (const [key, count] of hypCounts) {
    const n = Number(key.slice(0, key.indexOf('\u0001')));
    correct[n - 1] += Math.min(count, maxRef.get(key) ?? 0);
  }
  return { correct, total, hypothesisLength: hypothesis.length, referenceLength };
}

/** BLEU from statistics (sacreBLEU's `compute_bleu`), in [0, 100]. */
export function bleuFromStatistics(
  stats: BleuStatistics,
  options: BleuOptions = {},
): { score: number; precisions: number[]; brevityPenalty: number } {
  const smoothMethod = options.smoothMethod ?? 'exp';
  const smoothValue = options.smoothValue ?? 0.1;
  const { correct, total, hypothesisLength, referenceLength } = stats;
  const precisions = new Array(MAX_ORDER).fill(0);
  const brevityPenalty =
    hypothesisLength >= referenceLength
      ? 1
      : hypothesisLength > 0
        ? Math.exp(1 - referenceLength / hypothesisLength)
        : 0;
  // sacreBLEU stops early when no n-gram of any order matches (its #141): BLEU 0, whatever the smoothing would give.
  if (correct.every((c) => c === 0)) return { score: 0, precisions, brevityPenalty };
  let smoothMteval = 1;
  let effectiveOrder = MAX_ORDER;
  for (let n = 1; n <= MAX_ORDER; n++) {
    if (total[n - 1] === 0) break;
    if (options.effectiveOrder) effectiveOrder = n;
    if (correct[n - 1] === 0) {
      if (smoothMethod === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]);
      } else if (smoothMethod === 'floor') {
        precisions[n - 1] = (100 * smoothValue) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  // sacreBLEU's my_log: log(0) counts as a huge negative number, so any zero precision zeroes the score.
  const logSum = precisions
    .slice(0, effectiveOrder)
    .reduce((sum, p) => sum + (p === 0 ? -9999999999 : Math.log(p)), 0);
  return { score: brevityPenalty * Math.exp(logSum / effectiveOrder), precisions, brevityPenalty };
}

/**
 * Corpus BLEU of `hypotheses` against one or more reference streams (`references[r][i]` is reference r of
 * segment i), as sacreBLEU's `corpus_bleu`.
 *
 * @example
 * corpusBleu(['The cat sat.'], [['The cat sat.']]).score // 100
 */
export function corpusBleu(
  hypotheses: string[],
  references: string[][],
  options: BleuOptions = {},
): BleuScore {
  const tokenize = options.tokenize ?? '13a';
  const prepare = (line: string): string[] => {
    const cased = options.lowercase ? line.toLowerCase() : line;
    const text = tokenize === '13a' ? tokenize13a(cased) : cased.trim();
    return text.split(/\s+/).filter(Boolean);
  };
  const sum: BleuStatistics = {
    correct: new Array(MAX_ORDER).fill(0),
    total: new Array(MAX_ORDER).fill(0),
    hypothesisLength: 0,
    referenceLength: 0,
  };
  hypotheses.forEach((hypothesis, i) => {
    const stats = segmentStatistics(
      prepare(hypothesis),
      references.map((stream) => prepare(stream[i] ?? '')),
    );
    for (let n = 0; n < MAX_ORDER; n++) {
      sum.correct[n] += stats.correct[n];
      sum.total[n] += stats.total[n];
    }
    sum.hypothesisLength += stats.hypothesisLength;
    sum.referenceLength += stats.referenceLength;
  });
  const result = bleuFromStatistics(sum, options);
  const signature = [
    `nrefs:${references.length}`,
    `case:${options.lowercase ? 'lc' : 'mixed'}`,
    `eff:${options.effectiveOrder ? 'yes' : 'no'}`,
    `tok:${tokenize}`,
    `smooth:${options.smoothMethod ?? 'exp'}`,
    'version:el-translate',
  ].join('|');
  return { ...sum, ...result, signature };
}
