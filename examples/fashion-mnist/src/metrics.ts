/** Test-set measures of one trained model. */
export interface Evaluation {
  accuracy: number;
  /** Accuracy of each class, by label. */
  perClassAccuracy: number[];
  /** Expected calibration error over equal-width confidence bins. */
  ece: number;
  /** Mean negative log-likelihood of the true class, each p floored at 1e-30 (a term is at most 69.08). */
  nll: number;
}

/**
 * Accuracy, per-class accuracy, ECE and NLL of `probabilities` `[N, K]` (row-major) against `labels` `[N]`.
 *
 * ECE (Guo et al., 2017): confidences c_i = max_k p_ik fall in `bins` equal-width bins ((b−1)/B, b/B];
 * ECE = Σ_b |B_b| / N · |accuracy(B_b) − mean confidence(B_b)|. NLL = mean of −log max(p_iy, 1e-30): from
 * probabilities, a true class far below the top (a float32 softmax gives p = 0 past a logit gap of about 104) has
 * no finite log, so its term is capped at −log 1e-30 ≈ 69.08.
 */
export function evaluate(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  { bins = 15 } = {},
): Evaluation {
  const count = labels.length;
  const correctPerClass = new Array<number>(classes).fill(0);
  const totalPerClass = new Array<number>(classes).fill(0);
  const binCount = new Array<number>(bins).fill(0);
  const binCorrect = new Array<number>(bins).fill(0);
  const binConfidence = new Array<number>(bins).fill(0);
  let correct = 0;
  let nll = 0;
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++)
      if (probabilities[i * classes + k] > probabilities[i * classes + best]) best = k;
    const confidence = probabilities[i * classes + best];
    const y = labels[i];
    const hit = best === y ? 1 : 0;
    correct += hit;
    correctPerClass[y] += hit;
    totalPerClass[y]++;
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1));
    binCount[bin]++;
    binCorrect[bin] += hit;
    binConfidence[bin] += confidence;
    nll -= Math.log(Math.max(probabilities[i * classes + y], 1e-30));
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (binCount[b] > 0) ece += Math.abs(binCorrect[b] - binConfidence[b]) / count;
  }
  return {
    accuracy: correct / count,
    perClassAccuracy: correctPerClass.map((c, k) =>
      totalPerClass[k] > 0 ? c / totalPerClass[k] : Number.NaN,
    ),
    ece,
    nll: nll / count,
  };
}

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance =
    values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** The per-seed differences `values[i] − baseline[i]`: their mean, std, range, and how many are > 0 and < 0. */
export function pairedDifference(values: readonly number[], baseline: readonly number[]) {
  if (values.length !== baseline.length) {
    throw new RangeError(
      `paired difference of ${values.length} values against ${baseline.length} baseline values`,
    );
  }
  const differences = values.map((v, i) => v - baseline[i]);
  return {
    ...meanStd(differences),
    min: Math.min(...differences),
    max: Math.max(...differences),
    positive: differences.filter((d) => d > 0).length,
    negative: differences.filter((d) => d < 0).length,
    count: differences.length,
  };
}
