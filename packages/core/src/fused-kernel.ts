import type { ResolvedEncouragingLossOptions } from './options.js';
import { bonusTerms, NO_DOMINANT } from './row-terms.js';

/** Float buffers the kernel reads and writes. */
export type FloatArray = Float32Array | Float64Array;

/** What the fused kernel returns: reduced values (one per row for `'none'`) and, if asked, the gradient. */
export interface KernelResult {
  loss: Float64Array;
  crossEntropy: Float64Array;
  bonus: Float64Array;
  grad: FloatArray | undefined;
}

/**
 * The fused single-pass-per-row kernel for logits `[rows, K]` and integer targets: loss, its parts and the exact
 * gradient, one exp per element, no intermediate arrays (the gradient buffer holds exp(z − max) until it is
 * scaled in place). Inputs are validated by the caller.
 *
 * `gradOut` (the logits' type and length) receives the gradient instead of a new buffer; it may be the logits
 * themselves (in place: each row is read from a row-sized copy), but must not overlap them otherwise.
 *
 * Numerics: log(1 − p_y) for the dominant class comes from Σ_{j≠a} exp(z_j − max), summed on both sides of a
 * with no subtraction; below 1e-30 that sum is recomputed shifted by the runner-up logit, so EL is exact at any
 * margin (the target gradient stays −1 and the runner-up's +ρ).
 */
export function fusedEncouragingLoss(
  logits: FloatArray,
  targets: ArrayLike<number | bigint>,
  classCount: number,
  options: ResolvedEncouragingLossOptions,
  withGrad: boolean,
  gradOut?: FloatArray,
): KernelResult {
  const K = classCount;
  const rows = logits.length / K;
  const { bonusWeight: rho, labelSmoothing: eps, ignoreIndex, reduction, classWeights } = options;
  const terms = bonusTerms(options);
  const { bonusOf, betaTimes } = terms;
  const offTarget = eps / K; // q_k for k ≠ y
  const onTarget = 1 - eps + offTarget;
  const grad = withGrad
    ? (gradOut ??
      (logits instanceof Float32Array ? new Float32Array(logits.length) : new Float64Array(logits.length)))
    : undefined;
  const rowCopy = gradOut !== undefined && gradOut.buffer === logits.buffer ? logits.slice(0, K) : undefined;
  const perRow = reduction === 'none';
  const loss = new Float64Array(perRow ? rows : 1);
  const crossEntropy = new Float64Array(perRow ? rows : 1);
  const bonus = new Float64Array(perRow ? rows : 1);
  const rowScale = new Float64Array(withGrad ? rows : 0);
  let weightTotal = 0;

  for (let r = 0; r < rows; r++) {
    const raw = targets[r];
    const y = typeof raw === 'bigint' ? Number(raw) : raw;
    if (y === ignoreIndex) {
      if (gradOut) gradOut.fill(0, r * K, (r + 1) * K);
      continue;
    }
    const o = r * K;
    // In place (gradOut is the logits' own buffer), the row's logits are read from a copy: pass 2 overwrites them.
    if (rowCopy) rowCopy.set(logits.subarray(o, o + K));
    const row = rowCopy ?? logits;
    const ro = rowCopy ? 0 : o;
    const weight = classWeights ? classWeights[y] : 1;
    weightTotal += weight;

    // Pass 1: max and argmax (first occurrence); Σ z for the smoothed cross-entropy.
    let max = row[ro];
    let argmax = 0;
    let sumZ = 0;
    for (let j = 0; j < K; j++) {
      const z = row[ro + j];
      sumZ += z;
      if (z > max) {
        max = z;
        argmax = j;
      }
    }
    // Pass 2: e_j = exp(z_j − max), stored in the gradient buffer; Σ_{j≠argmax} e_j without subtraction.
    let rest = 0;
    if (grad) {
      for (let j = 0; j < K; j++) {
        const e = Math.exp(row[ro + j] - max);
        grad[o + j] = e;
        if (j !== argmax) rest += e;
      }
    } else {
      for (let j = 0; j < K; j++) if (j !== argmax) rest += Math.exp(row[ro + j] - max);
    }
    const total = 1 + rest; // e_argmax = exp(0) = 1 exactly
    const logTotal = Math.log1p(rest);
    const pArgmax = 1 / total;
    const dominant = pArgmax > 0.5 ? argmax : -1;

    // log(1 − p_a) for the dominant class, and the shift/scale that give p_j / (1 − p_a) = exp(z_j − shift) / norm.
    let logOneMinusDominant = 0;
    let ratioShift = max;
    let ratioNorm = rest;
    if (dominant >= 0) {
      if (rest >= 1e-30) {
        logOneMinusDominant = Math.log(rest) - logTotal;
      } else {
        // Runner-up shift: Σ_{j≠a} exp(z_j − m2) ≥ 1, exact however far behind the other classes are.
        let second = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < K; j++) if (j !== argmax && row[ro + j] > second) second = row[ro + j];
        let sum = 0;
        for (let j = 0; j < K; j++) if (j !== argmax) sum += Math.exp(row[ro + j] - second);
        ratioShift = second;
        ratioNorm = sum;
        logOneMinusDominant = second - max + Math.log(sum) - logTotal;
      }
    }
    const logProbTarget = row[ro + y] - max - logTotal;
    const pTarget = Math.exp(logProbTarget);

    // The dominant class's bonus and −β_a(1 − p_a) ("self") term, valid for any p_a > 1/2.
    const {
      bonus: dominantBonus,
      self: dominantSelf,
      beta: dominantBeta,
      inLog: dominantInLog,
    } = dominant >= 0 ? terms.dominant(pArgmax, logOneMinusDominant) : NO_DOMINANT;

    let rowCrossEntropy: number;
    let rowBonus: number;
    if (eps === 0) {
      rowCrossEntropy = -logProbTarget;
      rowBonus = y === dominant ? dominantBonus : bonusOf(pTarget);
    } else {
      // −Σ_k q_k log p_k = −ε/K Σ_k (z_k − max − log S) − (1 − ε) log p_y
      rowCrossEntropy = -offTarget * (sumZ - K * (max + logTotal)) - (1 - eps) * logProbTarget;
      rowBonus = 0;
    }

    // Smoothed rows: one pass for Σ_k q_k b(p_k) and W' = Σ_{k≠a} w_k, w_k = −q_k β_k p_k.
    let restW = 0;
    if (eps > 0) {
      const invTotal = 1 / total;
      for (let j = 0; j < K; j++) {
        const q = j === y ? onTarget : offTarget;
        if (j === dominant) {
          rowBonus += q * dominantBonus;
          continue;
        }
        const p = (grad ? grad[o + j] : Math.exp(row[ro + j] - max)) * invTotal;
        rowBonus += q * bonusOf(p);
        if (grad) restW -= q * betaTimes(p);
      }
    }

    const rowLoss = rowCrossEntropy + rho * rowBonus;
    const index = perRow ? r : 0;
    loss[index] += weight * rowLoss;
    crossEntropy[index] += weight * rowCrossEntropy;
    bonus[index] += weight * rowBonus;
    if (!grad) continue;
    rowScale[r] = weight;

    // Gradient, in place over e_j (scaled by w[y] and the reduction afterwards).
    const invTotal = 1 / total;
    if (eps === 0) {
      // ∂ℓ/∂z_j = (p_j − δ_jy)(1 + ρ p_y β): the CE gradient scaled; β p_j = p_j / (1 − p_y) in the log region.
      if (y === dominant && dominantInLog) {
        if (ratioShift === max) {
          const coefficient = invTotal + (rho * pTarget) / ratioNorm;
          for (let j = 0; j < K; j++) grad[o + j] *= coefficient;
        } else {
          for (let j = 0; j < K; j++) {
            const z = row[ro + j];
            grad[o + j] =
              Math.exp(z - max - logTotal) + rho * pTarget * (Math.exp(z - ratioShift) / ratioNorm);
          }
        }
        grad[o + y] = -Math.exp(logOneMinusDominant) - rho * pTarget;
      } else {
        const { beta, self, oneMinus } =
          y === dominant
            ? { beta: dominantBeta, self: dominantSelf, oneMinus: Math.exp(logOneMinusDominant) }
            : terms.target(pTarget);
        const coefficient = (1 + rho * pTarget * beta) * invTotal;
        for (let j = 0; j < K; j++) grad[o + j] *= coefficient;
        grad[o + y] = -oneMinus + rho * pTarget * self;
      }
    } else {
      // ∂ℓ/∂z_j = p_j − q_j + ρ (w_j − p_j W') + ρ q_a p_a (δ_ja self_a + [j≠a] β_a p_j), Σ q = 1.
      const qDominant = dominant === y ? onTarget : offTarget;
      const dominantFactor = dominant >= 0 ? rho * qDominant * pArgmax : 0;
      const useRatio = dominant >= 0 && dominantInLog;
      for (let j = 0; j < K; j++) {
        const p = grad[o + j] * invTotal;
        const q = j === y ? onTarget : offTarget;
        let g = p - q;
        if (j === dominant) {
          g += -rho * p * restW + dominantFactor * dominantSelf;
        } else {
          g += rho * (-q * betaTimes(p) - p * restW);
          if (dominant >= 0) {
            const betaP = useRatio
              ? ratioShift === max
                ? grad[o + j] / ratioNorm
                : Math.exp(row[ro + j] - ratioShift) / ratioNorm
              : dominantBeta * p;
            g += dominantFactor * betaP;
          }
        }
        grad[o + j] = g;
      }
    }
  }

  // Reduction: 'mean' divides by Σ w[y] over kept rows (PyTorch); all ignored gives 0 with a zero gradient.
  const divisor = reduction === 'mean' && weightTotal > 0 ? weightTotal : 1;
  if (reduction === 'mean') {
    loss[0] /= divisor;
    crossEntropy[0] /= divisor;
    bonus[0] /= divisor;
  }
  if (grad) {
    for (let r = 0; r < rows; r++) {
      const scale = rowScale[r] / divisor;
      const o = r * K;
      if (scale === 1) continue;
      for (let j = 0; j < K; j++) grad[o + j] *= scale;
    }
  }
  return { loss, crossEntropy, bonus, grad };
}
