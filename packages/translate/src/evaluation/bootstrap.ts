/**
 * Paired bootstrap resampling (Koehn 2004) as sacreBLEU's `--paired-bs` computes it: corpus scores recomputed from
 * resampled segments' sufficient statistics, the same resampled segments for every system.
 */

import { invalidOption } from '../errors.js';
import { Rng } from '../rng.js';
import type { CorpusMetric } from './corpus-metrics.js';

/** Options of {@link pairedBootstrap}. */
export interface PairedBootstrapOptions {
  /** Resamples. Default `1000` (sacreBLEU's for `bs`). */
  resamples?: number;
  /** Seed of the resampling: an integer in [0, 2³²). Default `12345` (sacreBLEU's `SACREBLEU_SEED` default). */
  seed?: number;
  /**
   * The resamples themselves (`[resample][segment]` → segment index), instead of drawing them from `seed`; every
   * row must have one index per segment. For tests and for reproducing another tool's draws.
   */
  indices?: readonly (readonly number[])[];
}

/** One system's result; the baseline (system 0) has no p-value. */
export interface BootstrapResult {
  /** The corpus score on the whole test set. */
  score: number;
  /** Mean of the resampled scores (sacreBLEU's μ). */
  mean: number;
  /** Half-width of the 95 % interval (sacreBLEU's "± 95% CI"): (upper − lower) / 2. */
  ci: number;
  /** The 95 % percentile interval of the resampled scores: sorted[⌊R/40⌋] and sorted[R − ⌊R/40⌋ − 1]. */
  lower: number;
  upper: number;
  /** Paired p-value against the baseline; `null` for the baseline. */
  pValue: number | null;
  /** 95 % percentile interval of the paired difference (system − baseline) over the resamples. */
  difference: { lower: number; upper: number } | null;
}

/** Resample indices: `resamples` rows of `segments` indices drawn uniformly with replacement. */
export function resampleIndices(segments: number, resamples: number, seed: number): Int32Array[] {
  // The generator keeps 32 bits of its seed: 0.5, 2³² and 0 would all draw seed 0's resamples under another name.
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    invalidOption(`Bootstrap seed must be an integer in [0, 2^32), got ${seed}.`);
  }
  const rng = new Rng(seed);
  return Array.from({ length: resamples }, () => {
    const row = new Int32Array(segments);
    for (let i = 0; i < segments; i++) row[i] = rng.int(segments);
    return row;
  });
}

/** sorted[⌊n/40⌋] and sorted[n − ⌊n/40⌋ − 1]: sacreBLEU's `estimate_ci` bounds (2.5 % from each end). */
function percentileInterval(values: readonly number[]): { lower: number; upper: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const low = Math.floor(sorted.length / 40);
  return { lower: sorted[low], upper: sorted[sorted.length - low - 1] };
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * Paired bootstrap resampling of several systems against the first (the baseline), on one metric.
 *
 * For each of R resamples of the n test segments (with replacement, the same resample for every system), each
 * system's corpus score is recomputed from the sum of the resampled segments' statistics. Per system:
 * μ = mean of its R scores and the 95 % interval [sorted[⌊R/40⌋], sorted[R − ⌊R/40⌋ − 1]] with half-width
 * ci (sacreBLEU's `estimate_ci`). Per non-baseline system, with δ = |score − baseline score| on the whole set and
 * dᵣ = |scoreᵣ − baseline scoreᵣ| per resample, the resampled differences are centred (sᵣ = dᵣ − mean d, the null
 * hypothesis of no difference) and p = (#{r : sᵣ ≥ δ} + 1) / (R + 1) (sacreBLEU's `_paired_bs_test` and
 * `_compute_p_value`).
 *
 * One departure from sacreBLEU: it counts sᵣ > δ strictly, so two systems the metric cannot tell apart (every
 * dᵣ = δ = 0) get p = 1/(R + 1) ≈ 0.001 — "significant". Counting sᵣ ≥ δ gives them p = 1; elsewhere a centred
 * resampled difference practically never equals the observed one to the last bit, so nothing else changes (on
 * sacreBLEU's own resamples every p-value is sacreBLEU's: `bootstrap.test.ts`).
 *
 * @param statistics `[system][segment]` → the segment's statistics vector (from `metric.statistics`); every
 *   system has the same segments.
 * @returns one result per system, the baseline first.
 *
 * @example
 * const stats = systems.map((hyps) => BLEU.statistics(hyps, references));
 * pairedBootstrap(stats, BLEU)[1].pValue // e.g. 0.0010: system 1 differs from the baseline
 */
export function pairedBootstrap(
  statistics: readonly (readonly (readonly number[])[])[],
  metric: Pick<CorpusMetric, 'score'>,
  options: PairedBootstrapOptions = {},
): BootstrapResult[] {
  const segments = statistics[0]?.length ?? 0;
  if (segments === 0) invalidOption('Paired bootstrap needs at least one system with at least one segment.');
  for (const [s, system] of statistics.entries()) {
    if (system.length !== segments) {
      invalidOption(`Paired bootstrap: system ${s} has ${system.length} segments, the baseline ${segments}.`);
    }
  }
  const resamples = options.indices?.length ?? options.resamples ?? 1000;
  if (!Number.isInteger(resamples) || resamples < 1) {
    invalidOption(`Bootstrap resamples must be a positive integer, got ${resamples}.`);
  }
  const indices = options.indices ?? resampleIndices(segments, resamples, options.seed ?? 12345);
  const dimension = statistics[0][0].length;
  const sum = new Float64Array(dimension);
  const scoreOf = (system: readonly (readonly number[])[], rows: ArrayLike<number> | undefined) => {
    sum.fill(0);
    const count = rows ? rows.length : system.length;
    for (let i = 0; i < count; i++) {
      const index = rows ? rows[i] : i;
      if (!Number.isInteger(index) || index < 0 || index >= segments) {
        invalidOption(`Paired bootstrap: resample index ${index} is not a segment (0..${segments - 1}).`);
      }
      const vector = system[index];
      for (let k = 0; k < dimension; k++) sum[k] += vector[k];
    }
    return metric.score(sum);
  };
  const observed = statistics.map((system) => scoreOf(system, undefined));
  const resampled = statistics.map((system) => indices.map((rows) => scoreOf(system, rows)));
  const [baseline, baselineScores] = [observed[0], resampled[0]];
  return statistics.map((_, s) => {
    const scores = resampled[s];
    const { lower, upper } = percentileInterval(scores);
    const result = { score: observed[s], mean: mean(scores), ci: (upper - lower) / 2, lower, upper };
    if (s === 0) return { ...result, pValue: null, difference: null };
    const delta = Math.abs(observed[s] - baseline);
    const differences = scores.map((x, r) => Math.abs(x - baselineScores[r]));
    const centre = mean(differences);
    const extreme = differences.filter((d) => d - centre >= delta).length;
    return {
      ...result,
      pValue: (extreme + 1) / (scores.length + 1),
      difference: percentileInterval(scores.map((x, r) => x - baselineScores[r])),
    };
  });
}
