import { EncouragingLossError } from './errors.js';
import {
  type EncouragingLossOptions,
  type ResolvedEncouragingLossOptions,
  type ResolvedSigmoidEncouragingLossOptions,
  resolveOptions,
  resolveSigmoidOptions,
  type SigmoidEncouragingLossOptions,
} from './options.js';
import type { TensorOps } from './tensor-ops.js';

/** How the second argument is to be read by the functions of {@link createEncouragingLoss}. */
export type TargetType = 'indices' | 'probabilities';

/** Options of the generic functions: the loss options plus how to read the targets. */
export interface GenericEncouragingLossOptions extends EncouragingLossOptions {
  /**
   * `'indices'` (default): integer class indices of the batch shape `[...B]`.
   * `'probabilities'`: soft targets q `[...B, K]` (Σ_k q_k is whatever is given; no ignore handling).
   */
  targetType?: TargetType;
}

/** Loss and the gradient of the reduced loss with respect to the input (the gradient of the sum for `'none'`). */
export interface LossWithGrad<T> {
  loss: T;
  grad: T;
}

/** The loss and the two parts it is made of, reduced alike: `loss = crossEntropy + bonusWeight · bonus`. */
export interface LossComponents<T> {
  loss: T;
  /** Σ_k q_k · (−log p_k), reduced like the loss: the NLL to log and to compute perplexity from. */
  crossEntropy: T;
  /** Σ_k q_k · b(p_k), reduced like the loss (≤ 0). */
  bonus: T;
}

/** The Encouraging Loss functions bound to one backend. */
export interface EncouragingLossFunctions<T> {
  /** The reduced loss: `[]` for `'mean'`/`'sum'`, the batch shape `[...B]` for `'none'`. */
  encouragingLoss(logits: T, targets: T, options?: GenericEncouragingLossOptions): T;
  /** The loss and its exact closed-form gradient with respect to `logits` (shape `[...B, K]`). */
  encouragingLossWithGrad(logits: T, targets: T, options?: GenericEncouragingLossOptions): LossWithGrad<T>;
  /** The loss with its cross-entropy and bonus parts, for logging. */
  encouragingLossComponents(
    logits: T,
    targets: T,
    options?: GenericEncouragingLossOptions,
  ): LossComponents<T>;
  /** The multi-label (sigmoid) variant; targets are 0/1 (or `ignoreIndex`) of the logits' shape. */
  sigmoidEncouragingLoss(logits: T, targets: T, options?: SigmoidEncouragingLossOptions): T;
  /** The multi-label variant with its gradient with respect to `logits`. */
  sigmoidEncouragingLossWithGrad(
    logits: T,
    targets: T,
    options?: SigmoidEncouragingLossOptions,
  ): LossWithGrad<T>;
}

interface Want {
  grad: boolean;
  components: boolean;
}

interface Computed<T> {
  loss: T;
  grad?: T;
  crossEntropy?: T;
  bonus?: T;
}

/**
 * Binds the Encouraging Loss to a backend. Everything here is the one definition of the math: every adapter
 * (typed arrays, tfjs, the ONNX graph builder) runs this code over its own {@link TensorOps}.
 *
 * @param ops - a `TensorOps` implementation with `specificationVersion: 'v1'`.
 * @returns the loss functions over the backend's tensors.
 *
 * @example
 * ```ts
 * const { encouragingLossWithGrad } = createEncouragingLoss(tfjsOps);
 * const { loss, grad } = encouragingLossWithGrad(logits, targets, { logEnd: 0.5 });
 * ```
 */
export function createEncouragingLoss<T>(ops: TensorOps<T>): EncouragingLossFunctions<T> {
  if (ops === null || typeof ops !== 'object' || ops.specificationVersion !== 'v1') {
    throw new EncouragingLossError(
      'UNSUPPORTED_BACKEND',
      `createEncouragingLoss needs TensorOps with specificationVersion 'v1', got ${String(
        (ops as { specificationVersion?: unknown } | null)?.specificationVersion,
      )}.`,
    );
  }
  const scoped = <R>(fn: () => R): R => (ops.scope ? ops.scope(fn) : fn());
  const run = (logits: T, targets: T, options: GenericEncouragingLossOptions | undefined, want: Want) => {
    const resolved = resolveOptions(options);
    const targetType = options?.targetType ?? 'indices';
    if (targetType !== 'indices' && targetType !== 'probabilities') {
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `Option targetType must be 'indices' or 'probabilities', got ${JSON.stringify(targetType)}.`,
      );
    }
    return scoped(() => computeEncouragingLoss(ops, logits, targets, resolved, targetType, want));
  };
  return {
    encouragingLoss: (logits, targets, options) =>
      run(logits, targets, options, { grad: false, components: false }).loss,
    encouragingLossWithGrad: (logits, targets, options) => {
      const out = run(logits, targets, options, { grad: true, components: false });
      return { loss: out.loss, grad: out.grad as T };
    },
    encouragingLossComponents: (logits, targets, options) => {
      const out = run(logits, targets, options, { grad: false, components: true });
      return { loss: out.loss, crossEntropy: out.crossEntropy as T, bonus: out.bonus as T };
    },
    sigmoidEncouragingLoss: (logits, targets, options) => {
      const resolved = resolveSigmoidOptions(options);
      return scoped(() => computeSigmoidEncouragingLoss(ops, logits, targets, resolved, false).loss);
    },
    sigmoidEncouragingLossWithGrad: (logits, targets, options) => {
      const resolved = resolveSigmoidOptions(options);
      const out = scoped(() => computeSigmoidEncouragingLoss(ops, logits, targets, resolved, true));
      return { loss: out.loss, grad: out.grad as T };
    },
  };
}

/** The smallest normal float32: probabilities are clamped to it before the log so everything stays finite. */
const SMALLEST_FLOAT32 = 1.1754943508222875e-38;

/** log-softmax along the last axis: the backend's fused op when it has one, else max-shifted log-sum-exp. */
export function composedLogSoftmax<T>(ops: TensorOps<T>, x: T): T {
  if (ops.logSoftmax) return ops.logSoftmax(x);
  if (ops.logSumExp) return ops.sub(x, ops.logSumExp(x));
  // Shift by the row max so exp never overflows and the largest term is exactly 1.
  const shifted = ops.sub(x, ops.maxLastAxis(x));
  return ops.sub(shifted, ops.log(ops.sumLastAxis(ops.exp(shifted))));
}

/** Composed log-sum-exp along the last axis, kept (`[...B, K] → [...B, 1]`). */
export function composedLogSumExp<T>(ops: TensorOps<T>, x: T): T {
  if (ops.logSumExp) return ops.logSumExp(x);
  const max = ops.maxLastAxis(x);
  return ops.add(max, ops.log(ops.sumLastAxis(ops.exp(ops.sub(x, max)))));
}

/**
 * Softmax along the last axis and log S, S = Σ_k e^{x_k − max} ∈ [1, K] (`max` the row maximum of x): the
 * backend's fused softmax with S = 1 / max_k p_k (its largest entry is e⁰ / S), or e^{x − max} / S composed.
 */
export function composedSoftmax<T>(ops: TensorOps<T>, x: T, max: T): { probs: T; logSum: T } {
  if (ops.softmax) {
    const probs = ops.softmax(x);
    return { probs, logSum: ops.neg(ops.log(ops.maxLastAxis(probs))) };
  }
  const shifted = ops.exp(ops.sub(x, max));
  const sum = ops.sumLastAxis(shifted);
  return { probs: ops.div(shifted, sum), logSum: ops.log(sum) };
}

/** ln(1 + x): the backend's fused op, or log(1 + x) (absolute error ~ machine epsilon). */
export function composedLog1p<T>(ops: TensorOps<T>, x: T): T {
  return ops.log1p ? ops.log1p(x) : ops.log(ops.add(ops.scalar(1, x), x));
}

/**
 * Σ_k ln x_k along the last axis, kept (`[...B, K] → [...B, 1]`): the backend's fused op, or the sum of logs.
 * Core calls it with x_k ∈ [1/10, 1] and Σ_k (1 − x_k) ≤ 1 only, so the product of a row is at least 1/13.
 */
export function composedSumLog<T>(ops: TensorOps<T>, x: T): T {
  return ops.sumLogLastAxis ? ops.sumLogLastAxis(x) : ops.sumLastAxis(ops.log(x));
}

/** softplus(x) = ln(1 + eˣ), stably: max(x, 0) + log1p(e^−|x|). */
export function composedSoftplus<T>(ops: TensorOps<T>, x: T): T {
  return ops.add(ops.maximum(x, ops.scalar(0, x)), composedLog1p(ops, ops.exp(ops.neg(ops.abs(x)))));
}

/**
 * log(1 − p) of one class per row (the one `isTarget` `[...B, K]` marks, at most one per row), from
 * log-probabilities `logProbs` `[...B, K]` and that class's probability `pTarget` `[...B, 1]`. Returns `[...B, 1]`.
 *
 * Where p > 1/2, 1 − p = Σ_{j≠y} p_j is summed from the other classes relative to the largest of them, p_r:
 * log(1 − p) = log p_r + log Σ_{j≠y} e^{log p_j − log p_r}, a sum in [1, K) that neither cancels nor underflows,
 * so it is exact at any finite margin. Elsewhere log1p(−p) is exact.
 */
function exactLogOneMinus<T>(ops: TensorOps<T>, logProbs: T, isTarget: T, pTarget: T): T {
  const others = ops.where(isTarget, ops.scalar(-Number.MAX_VALUE, logProbs), logProbs);
  const largestOther = ops.maxLastAxis(others);
  const rest = ops.sumLastAxis(ops.exp(ops.sub(others, largestOther)));
  const half = ops.scalar(0.5, pTarget);
  const dominant = ops.greater(pTarget, half);
  // Clamp the log1p argument so the unselected branch stays finite.
  const small = composedLog1p(ops, ops.neg(ops.where(dominant, half, pTarget)));
  return ops.where(dominant, ops.add(largestOther, ops.log(rest)), small);
}

function computeEncouragingLoss<T>(
  ops: TensorOps<T>,
  input: T,
  targets: T,
  options: ResolvedEncouragingLossOptions,
  targetType: TargetType,
  want: Want,
): Computed<T> {
  const { logEnd, bonusWeight: rho, labelSmoothing, bonusFloor, reduction } = options;
  const c = (value: number) => ops.scalar(value, input);
  const one = c(1);
  const zero = c(0);
  // s = −b'(p) on the tangent; log(1 − logEnd) its value at logEnd.
  const tangentSlope = logEnd < 1 ? 1 / (1 - logEnd) : 0;
  const logOneMinusEnd = logEnd < 1 ? Math.log1p(-logEnd) : 0;
  /** min(x, bound), elementwise (TensorOps has `maximum` only). */
  const atMost = (x: T, bound: number) => ops.neg(ops.maximum(ops.neg(x), c(-bound)));

  // Probabilities are taken to log space once; a zero probability is clamped to the smallest float32 normal
  // so that everything downstream stays finite.
  const logits = options.input === 'probabilities' ? ops.log(ops.maximum(input, c(SMALLEST_FLOAT32))) : input;

  // Row masks and weights for integer targets.
  let rowWeight: T | undefined; // w[y] · [y ≠ ignoreIndex], [...B, 1]
  let isTarget: T | undefined;
  if (targetType === 'indices') {
    isTarget = ops.oneHot(targets, logits);
    const kept = ops.castLike(
      ops.logicalNot(ops.equal(targets, ops.intScalar(options.ignoreIndex, targets))),
      logits,
    );
    rowWeight = ops.expandLastAxis(kept);
    if (options.classWeights) {
      const weights = ops.vector(options.classWeights, logits);
      rowWeight = ops.mul(rowWeight, ops.sumLastAxis(ops.where(isTarget, ops.add(weights, zero), zero)));
    }
  }

  // The floor: log(max(1 − p, floor)) with zero derivative where it is active, compared in log space with the
  // exact log(1 − p) (1 − p itself never has to be formed). The floor (< 0.1) only acts where p > 0.9.
  const logClamp = Math.log(bonusFloor);
  // With logEnd ≤ 1 − floor the tangent starts first and the floor never acts (CEL): no mask, no extra ops.
  const floorActs = bonusFloor > 0 && logEnd > 1 - bonusFloor;
  const clampMask = (logOneMinusP: T, inTangent: T | undefined): T | undefined => {
    if (!floorActs) return undefined;
    const below = ops.greater(c(logClamp), logOneMinusP);
    return inTangent ? ops.logicalAnd(below, ops.logicalNot(inTangent)) : below;
  };

  /**
   * Integer targets, no smoothing, logits input. Everything per row follows from one scalar,
   * d = log Σ_{j≠y} e^{z_j − z_y} = (z_r − z_y) + log rest, with z_r the largest other logit and
   * rest = Σ_{j≠y} e^{z_j − z_r} ∈ [1, K) (no cancellation, no underflow at any margin):
   * −log p_y = softplus(d), log(1 − p_y) = −softplus(−d). No log-softmax over [..., K] is needed.
   */
  function hardTargetRows(
    ops: TensorOps<T>,
    logits: T,
    isTarget: T,
    withGrad: boolean,
    scale: T | undefined,
  ): { ce: T; bonus: T; grad?: T } {
    const zTarget = ops.sumLastAxis(ops.where(isTarget, logits, zero));
    const otherLogits = ops.where(isTarget, c(-Number.MAX_VALUE), logits);
    const zRunnerUp = ops.maxLastAxis(otherLogits);
    const others = ops.exp(ops.sub(otherLogits, zRunnerUp)); // o_j = e^{z_j − z_r}, 0 at the target
    const rest = ops.sumLastAxis(others);
    const d = ops.add(ops.sub(zRunnerUp, zTarget), ops.log(rest));
    const ce = composedSoftplus(ops, d);
    const logPTarget = ops.neg(ce);
    const pTarget = ops.exp(logPTarget);
    const logOneMinusP = ops.neg(composedSoftplus(ops, ops.neg(d)));
    const inTangent = logEnd < 1 ? ops.greater(pTarget, c(logEnd)) : undefined;
    const clamped = clampMask(logOneMinusP, inTangent);
    const tangent = ops.add(c(logOneMinusEnd), ops.mul(ops.sub(pTarget, c(logEnd)), c(-tangentSlope)));
    const logBonus = clamped ? ops.where(clamped, c(logClamp), logOneMinusP) : logOneMinusP;
    const bonus = inTangent ? ops.where(inTangent, tangent, logBonus) : logBonus;
    if (!withGrad) return { ce, bonus };

    // ∂ℓ/∂z_j = (p_j − δ_jy) f with the row factor f = 1 + ρ p_y β, β = −b'(p_y). Off the target that is o_j g
    // with p_r = e^{z_r − z_y} p_y and g = p_r f = p_r + ρ p_y β p_r, where β p_r = 1/rest in the log region:
    // bounded at any margin, so the gradient is one multiply over [..., K], exact even where f would overflow.
    // The row scale (class weight, 1/denominator) folds into g and the target entry.
    const oneMinusP = ops.exp(logOneMinusP);
    const runnerUp = ops.exp(ops.add(ops.sub(zRunnerUp, zTarget), logPTarget));
    const scaled = (x: T) => (scale ? ops.mul(x, scale) : x);
    if (rho === 0) {
      const grad = ops.where(isTarget, scaled(ops.neg(oneMinusP)), ops.mul(others, scaled(runnerUp)));
      return { ce, bonus, grad };
    }
    let betaRunnerUp = ops.div(one, rest);
    if (inTangent) betaRunnerUp = ops.where(inTangent, ops.mul(runnerUp, c(tangentSlope)), betaRunnerUp);
    if (clamped) betaRunnerUp = ops.where(clamped, zero, betaRunnerUp);
    const g = ops.add(runnerUp, ops.mul(c(rho), ops.mul(pTarget, betaRunnerUp)));
    // Target entry −(1 − p_y) f: in the log region (1 − p_y) β = 1, so −(1 − p_y) − ρ p_y at any margin.
    let targetGrad = ops.neg(ops.add(oneMinusP, ops.mul(c(rho), pTarget)));
    if (inTangent) {
      const f = ops.add(one, ops.mul(c(rho * tangentSlope), pTarget));
      targetGrad = ops.where(inTangent, ops.neg(ops.mul(oneMinusP, f)), targetGrad);
    }
    if (clamped) targetGrad = ops.where(clamped, ops.neg(oneMinusP), targetGrad);
    return { ce, bonus, grad: ops.where(isTarget, scaled(targetGrad), ops.mul(others, scaled(g))) };
  }

  function softTargetRows(
    ops: TensorOps<T>,
    logProbs: T,
    probs: T,
    targets: T,
    isTarget: T | undefined,
    targetType: TargetType,
    withGrad: boolean,
  ): { ce: T; bonus: T; grad?: T } {
    let q: T;
    if (targetType === 'indices') {
      const onTarget = ops.castLike(isTarget!, logProbs);
      q = ops.add(
        ops.mul(onTarget, c(1 - labelSmoothing)),
        ops.div(c(labelSmoothing), ops.lastAxisSize(logProbs)),
      );
    } else {
      q = options.classWeights ? ops.mul(targets, ops.vector(options.classWeights, logProbs)) : targets;
    }
    const half = c(0.5);
    // The dominant class (p > 1/2, at most one per row) is where 1 − p cancels; it is handled exactly.
    const isDominant = ops.greater(probs, half);
    const pDominant = ops.sumLastAxis(ops.where(isDominant, probs, zero));
    const logOneMinusDominant = exactLogOneMinus(ops, logProbs, isDominant, pDominant);
    const small = composedLog1p(ops, ops.neg(ops.where(isDominant, half, probs)));
    const logOneMinusP = ops.where(isDominant, logOneMinusDominant, small);
    const inTangent = logEnd < 1 ? ops.greater(probs, c(logEnd)) : undefined;
    const clamped = clampMask(logOneMinusP, inTangent);
    const tangent = ops.add(c(logOneMinusEnd), ops.mul(ops.sub(probs, c(logEnd)), c(-tangentSlope)));
    const logBonus = clamped ? ops.where(clamped, c(logClamp), logOneMinusP) : logOneMinusP;
    const bonusK = inTangent ? ops.where(inTangent, tangent, logBonus) : logBonus;
    const positive = ops.greater(q, zero);
    const ce = ops.sumLastAxis(ops.where(positive, ops.mul(q, ops.neg(logProbs)), zero));
    const bonus = ops.sumLastAxis(ops.where(positive, ops.mul(q, bonusK), zero));
    if (!withGrad) return { ce, bonus };

    // β_k p_k = −b'(p_k) p_k, per class; in the log region p/(1 − p) = exp(log p − log(1 − p)).
    const odds = ops.exp(ops.sub(logProbs, logOneMinusP));
    let betaP = inTangent ? ops.where(inTangent, ops.mul(probs, c(tangentSlope)), odds) : odds;
    if (clamped) betaP = ops.where(clamped, zero, betaP);
    if (options.input !== 'logits') {
      // Partial derivatives with the inputs independent: ∂ℓ/∂log p_k = −q_k (1 + ρ β_k p_k).
      const gradLogProbs = ops.neg(ops.mul(q, ops.add(one, ops.mul(c(rho), betaP))));
      const grad =
        options.input === 'probabilities'
          ? ops.div(gradLogProbs, ops.maximum(probs, c(SMALLEST_FLOAT32)))
          : gradLogProbs;
      return { ce, bonus, grad };
    }
    // ∂ℓ/∂z_j = Q p_j − q_j + ρ (w_j − p_j W) with w_k = −q_k β_k p_k, W = Σ w_k. The dominant class's w_a can
    // be huge (β_a = 1/(1 − p_a)); its terms are expanded: w_a (δ_aj − p_j) = q_a p_a β_a (p_j − δ_aj).
    const totalQ = ops.sumLastAxis(q);
    const wRest = ops.where(isDominant, zero, ops.neg(ops.mul(q, betaP)));
    const sumWRest = ops.sumLastAxis(wRest);
    let grad = ops.sub(ops.mul(totalQ, probs), q);
    grad = ops.add(grad, ops.mul(c(rho), ops.sub(wRest, ops.mul(probs, sumWRest))));

    const qDominant = ops.sumLastAxis(ops.where(isDominant, q, zero));
    const oneMinusDominant = ops.exp(logOneMinusDominant);
    const dominantInTangent = logEnd < 1 ? ops.greater(pDominant, c(logEnd)) : undefined;
    const dominantClamped = clampMask(logOneMinusDominant, dominantInTangent);
    let selfTerm = dominantInTangent // −β_a (1 − p_a)
      ? ops.where(dominantInTangent, ops.mul(oneMinusDominant, c(-tangentSlope)), c(-1))
      : c(-1);
    let otherTerm: T; // β_a p_j
    if (logEnd === 1) {
      otherTerm = ops.exp(ops.sub(logProbs, logOneMinusDominant));
    } else {
      const beta = ops.where(dominantInTangent!, c(tangentSlope), ops.exp(ops.neg(logOneMinusDominant)));
      otherTerm = ops.mul(probs, beta);
    }
    if (dominantClamped) {
      selfTerm = ops.where(dominantClamped, zero, selfTerm);
      otherTerm = ops.where(dominantClamped, zero, otherTerm);
    }
    const dominantGrad = ops.mul(
      ops.mul(c(rho), ops.mul(qDominant, pDominant)),
      ops.where(isDominant, selfTerm, otherTerm),
    );
    return { ce, bonus, grad: ops.add(grad, dominantGrad) };
  }

  /**
   * The smoothed gradient's per-class term in reciprocal form, for classes k with 1 − p_k = `oneMinus`_k (where a
   * class's entry is not 1 − p_k the caller corrects the sum and writes that entry itself). β_k p_k = p_k/(1 − p_k)
   * = 1/(1 − p_k) − 1, so with b = ε/K times the row scale and Y = ρb/(1 − p) (one full-size quotient):
   * ε/K (1 + ρ β_k p_k), scaled, is Y_k − (ρ − 1)b, and Σ_k β_k p_k = Σ_k Y_k/(ρb) − K. Σ 1/(1 − p) ≈ K cancels
   * against K, but reaches W scaled by ε/K: with a sum of one sign accurate to B·u relative (blocks of B), W moves
   * by at most about (B + 1)·ρ·ε ulps (docs/performance.md).
   */
  function reciprocalTerms(ops: TensorOps<T>, perClass: T, classes: T, oneMinus: T, scale: T | undefined) {
    const b = scale ? ops.mul(perClass, scale) : perClass;
    const rb = ops.mul(c(rho), b);
    const quotient = ops.div(rb, oneMinus);
    const sum = ops.sumLastAxis(quotient, 'nonNegative');
    // rb = 0 (ρ = 0, or an ignored row, whose gradient is 0 whatever W is): only 0/0 is avoided.
    const sumBetaP = ops.sub(ops.div(sum, ops.where(ops.greater(rb, zero), rb, one)), classes);
    return {
      b,
      sumBetaP,
      /** `first` (p_k times the scaled row factor) − ε/K (1 + ρ β_k p_k), scaled. */
      gradient: (first: T) => ops.sub(ops.add(first, ops.mul(c(rho - 1), b)), quotient),
    };
  }

  /**
   * Integer targets with label smoothing ε and logEnd ≤ 0.9: q = ε/K + (1 − ε)·onehot(y), so Σ_k q_k g(p_k) =
   * ε/K Σ_k g(p_k) + (1 − ε) g(p_y): row sums over the classes plus the target's own term. In the log region
   * 1 − p ≥ 1 − logEnd ≥ 0.1, so nothing cancels: with u_k = max(1 − p_k, 1 − logEnd),
   * b(p_k) = log u_k − s·max(p_k − logEnd, 0) and β_k p_k = p_k / u_k ≤ 9 for every class, and the gradient's
   * row factor 1 − ρW stays bounded. (Above 0.9 a dominant class's 1/(1 − p) is unbounded; the general path
   * expands it per element instead.)
   *
   * Everything comes from the logits and three row scalars: the row maximum m, S = Σ_k e^{z_k − m} ∈ [1, K] and
   * p_k = e^{z_k − m} / S, so log p_k = (z_k − m) − log S and Σ_k log p_k = Σ_k (z_k − m) − K log S (two sums of
   * one sign, no cancellation): no log-softmax over [..., K] is formed.
   */
  function smoothedTargetRows(
    ops: TensorOps<T>,
    logits: T,
    isTarget: T,
    withGrad: boolean,
    scale: T | undefined,
  ): { ce: T; bonus: T; grad?: T } {
    const eps = labelSmoothing;
    const classes = ops.lastAxisSize(logits);
    const perClass = ops.div(c(eps), classes); // ε/K

    const max = ops.maxLastAxis(logits);
    const shifted = ops.sub(logits, max);
    // Each full-size value is summed right after it is made, so a graph backend holds fewer of them at once.
    const sumShifted = ops.sumLastAxis(shifted);
    const { probs, logSum: logExpSum } = composedSoftmax(ops, logits, max);
    const u = ops.maximum(ops.sub(one, probs), c(1 - logEnd));
    let bonusSum = composedSumLog(ops, u); // u ≥ 0.1 and Σ(1 − u) ≤ Σ p = 1
    // logEnd ≥ 1/2 with `argMaxLastAxis`: only the row's largest class a can have p > logEnd, so every other
    // class has u_k = 1 − p_k and the reciprocal form applies; a's entry and share of Σ β p are corrected.
    const reciprocal =
      withGrad && logEnd >= 0.5 && rho > 0 && ops.argMaxLastAxis
        ? reciprocalTerms(ops, perClass, classes, u, scale)
        : undefined;
    // An ignored row has no target: its log p_y is −log S, finite, and its weight 0.
    const logPTarget = ops.sub(ops.sumLastAxis(ops.where(isTarget, shifted, zero)), logExpSum);
    const pTarget = ops.exp(logPTarget);
    // The target's own term, per row (log1p keeps a small p_y exact).
    let bTarget = composedLog1p(ops, ops.neg(atMost(pTarget, logEnd)));
    const betaPTarget = ops.div(pTarget, ops.maximum(ops.sub(one, pTarget), c(1 - logEnd)));
    // Tangent parts Σ_k max(p_k − e, 0): for e ≥ 1/2 only the row's largest p can pass e; below,
    // max(p − e, 0) = u + p − 1 sums without a mask.
    const excess =
      logEnd >= 0.5
        ? ops.maximum(ops.sub(ops.maxLastAxis(probs), c(logEnd)), zero)
        : ops.sub(ops.sumLastAxis(ops.add(u, probs)), classes);
    bonusSum = ops.sub(bonusSum, ops.mul(c(tangentSlope), excess));
    bTarget = ops.sub(bTarget, ops.mul(c(tangentSlope), ops.maximum(ops.sub(pTarget, c(logEnd)), zero)));

    const sumLogProbs = ops.sub(sumShifted, ops.mul(classes, logExpSum));
    const ce = ops.neg(ops.add(ops.mul(perClass, sumLogProbs), ops.mul(c(1 - eps), logPTarget)));
    const bonus = ops.add(ops.mul(perClass, bonusSum), ops.mul(c(1 - eps), bTarget));
    if (!withGrad) return { ce, bonus };

    // ∂ℓ/∂z_j = p_j − q_j + ρ (w_j − p_j W), w_k = −q_k β_k p_k, W = Σ_k w_k. For every class but the target:
    // p_j (1 − ρW) − ε/K (1 + ρ p_j / u_j).
    const scaled = (x: T) => (scale ? ops.mul(x, scale) : x);
    if (reciprocal) return { ce, bonus, grad: reciprocalGradient(reciprocal) };
    const betaPs = ops.div(probs, u);
    // Σ_k β_k p_k ≤ Σ_k p_k / (1 − logEnd) ≤ 10, and it reaches W scaled by ε/K: a plain sum's absolute error,
    // at most (K − 1)·u·10, moves W by less than 10·ε·u (docs/performance.md).
    const sumBetaPs = ops.sumLastAxis(betaPs, 'bounded');
    const w = ops.neg(ops.add(ops.mul(perClass, sumBetaPs), ops.mul(c(1 - eps), betaPTarget)));
    const rowFactor = ops.sub(one, ops.mul(c(rho), w)); // 1 − ρW
    const others = ops.sub(
      ops.mul(probs, scaled(rowFactor)),
      ops.add(ops.mul(betaPs, scaled(ops.mul(perClass, c(rho)))), scaled(perClass)),
    );
    return { ce, bonus, grad: ops.where(isTarget, scaled(targetGradient(rowFactor)), others) };

    /** The target: p_y (1 − ρW) − q_y (1 + ρ β_y p_y). */
    function targetGradient(rowFactor: T): T {
      return ops.sub(
        ops.mul(pTarget, rowFactor),
        ops.mul(ops.add(perClass, c(1 - eps)), ops.add(one, ops.mul(c(rho), betaPTarget))),
      );
    }

    /** The gradient in reciprocal form: a's share of Σ β p is p_a/u_a − (1/u_a − 1) = max(p_a − logEnd, 0)/u_a. */
    function reciprocalGradient({ b, sumBetaP, gradient }: ReturnType<typeof reciprocalTerms>): T {
      const pMax = ops.maxLastAxis(probs);
      const uMax = ops.maximum(ops.sub(one, pMax), c(1 - logEnd));
      const sumBetaPs = ops.add(sumBetaP, ops.div(ops.maximum(ops.sub(pMax, c(logEnd)), zero), uMax));
      const w = ops.neg(ops.add(ops.mul(perClass, sumBetaPs), ops.mul(c(1 - eps), betaPTarget)));
      const rowFactor = ops.sub(one, ops.mul(c(rho), w)); // 1 − ρW
      const others = gradient(ops.mul(probs, scaled(rowFactor)));
      // a (when it is not the target): p_a (1 − ρW) − ε/K (1 + ρ p_a/u_a), scaled.
      const maxGrad = ops.sub(
        ops.mul(pMax, scaled(rowFactor)),
        ops.mul(b, ops.add(one, ops.mul(c(rho), ops.div(pMax, uMax)))),
      );
      const isMax = ops.oneHot((ops.argMaxLastAxis as (x: T) => T)(logits), logits);
      return ops.where(isTarget, scaled(targetGradient(rowFactor)), ops.where(isMax, maxGrad, others));
    }
  }

  /**
   * Integer targets with label smoothing ε and logEnd > 0.9, on a backend with `argMaxLastAxis`. Only the row's
   * largest class a can have p > 1/2 (and so pass logEnd, or make 1/(1 − p) unbounded); every other class has
   * p_k ≤ 1/2. Everything follows from π, the softmax of the other classes (a excluded), and one row scalar
   * L = log Σ_{k≠a} e^{z_k − z_a} = (z_r − z_a) + log Σ_{k≠a} e^{z_k − z_r} (z_r the runner-up): log(1 − p_a) =
   * −softplus(−L), log Σ_k e^{z_k − z_a} = softplus(L) and p_k = (1 − p_a) π_k for k ≠ a. Exact at any margin with
   * one exp per element: a's unbounded β_a = 1/(1 − p_a) only ever multiplies 1 − p_a.
   */
  function smoothedDominantRows(
    ops: TensorOps<T>,
    logits: T,
    targets: T,
    isTarget: T,
    withGrad: boolean,
    scale: T | undefined,
  ): { ce: T; bonus: T; grad?: T } {
    const eps = labelSmoothing;
    const classes = ops.lastAxisSize(logits);
    const perClass = ops.div(c(eps), classes); // ε/K

    const argMax = (ops.argMaxLastAxis as (x: T) => T)(logits);
    const isMax = ops.oneHot(argMax, logits);
    const targetIsMax = ops.expandLastAxis(ops.equal(targets, argMax));
    const zMax = ops.sumLastAxis(ops.where(isMax, logits, zero));
    const others = ops.where(isMax, c(-Number.MAX_VALUE), logits);
    const zRunnerUp = ops.maxLastAxis(others);
    // π (0 at a) and log Σ_{k≠a} e^{z_k − z_r} ∈ [0, log(K − 1)].
    const { probs: pi, logSum: logOthersSum } = composedSoftmax(ops, others, zRunnerUp);
    const logOthers = ops.add(ops.sub(zRunnerUp, zMax), logOthersSum); // L
    const logSum = composedSoftplus(ops, logOthers); // log Σ_k e^{z_k − z_a}; log p_a = −logSum
    const logOneMinusMax = ops.neg(composedSoftplus(ops, ops.neg(logOthers)));
    const oneMinusMax = ops.exp(logOneMinusMax); // δ = 1 − p_a
    const pMax = ops.exp(ops.neg(logSum));

    // An ignored row has no target: its log p_y is −logSum, finite, and its weight 0.
    const shifted = ops.sub(logits, zMax);
    const logPTarget = ops.sub(ops.sumLastAxis(ops.where(isTarget, shifted, zero)), logSum);
    const pTarget = ops.exp(logPTarget);
    const sumLogProbs = ops.sub(ops.sumLastAxis(shifted), ops.mul(classes, logSum));
    const ce = ops.neg(ops.add(ops.mul(perClass, sumLogProbs), ops.mul(c(1 - eps), logPTarget)));

    // b(p_a), and β_a (1 − p_a): 1 on the log part, s (1 − p_a) on the tangent, 0 where the floor acts.
    const inTangent = logEnd < 1 ? ops.greater(pMax, c(logEnd)) : undefined;
    const clamped = clampMask(logOneMinusMax, inTangent);
    let bonusMax = clamped ? ops.where(clamped, c(logClamp), logOneMinusMax) : logOneMinusMax;
    if (inTangent) {
      const tangent = ops.add(c(logOneMinusEnd), ops.mul(ops.sub(pMax, c(logEnd)), c(-tangentSlope)));
      bonusMax = ops.where(inTangent, tangent, bonusMax);
    }
    let betaOneMinusMax = one;
    if (inTangent) betaOneMinusMax = ops.where(inTangent, ops.mul(oneMinusMax, c(tangentSlope)), one);
    if (clamped) betaOneMinusMax = ops.where(clamped, zero, betaOneMinusMax);
    // Every other class: 1 − p_k = 1 − δ π_k ∈ [1/2, 1] (1 at a), Σ_k p_k ≤ 1.
    const oneMinusOthers = ops.sub(one, ops.mul(pi, oneMinusMax));
    const bonusSum = ops.add(bonusMax, composedSumLog(ops, oneMinusOthers));
    // The target's own term: a's, or log1p(−p_y) with p_y ≤ 1/2 (clamped so the unselected side stays finite).
    const targetOther = atMost(pTarget, 0.5);
    const bTarget = ops.where(targetIsMax, bonusMax, composedLog1p(ops, ops.neg(targetOther)));
    const bonus = ops.add(ops.mul(perClass, bonusSum), ops.mul(c(1 - eps), bTarget));
    if (!withGrad) return { ce, bonus };

    // ∂ℓ/∂z_j = p_j − q_j + ρ (w_j − p_j W), w_k = −q_k β_k p_k, W = W_o + w_a with W_o = Σ_{k≠a} w_k bounded.
    // For j ≠ a, p_j (1 − ρW) = π_j G with G = δ (1 − ρW_o) + ρ q_a p_a β_a δ: bounded at any margin.
    // For k ≠ a, 1 − p_k = 1 − δπ_k, and at a that factor is exactly 1 (π_a = 0): the reciprocal form's Σ is
    // Σ_{k≠a} β_k p_k as it is.
    const scaled = (x: T) => (scale ? ops.mul(x, scale) : x);
    const { sumBetaP: sumBetaPOthers, gradient } = reciprocalTerms(
      ops,
      perClass,
      classes,
      oneMinusOthers,
      scale,
    );
    const oddsTarget = ops.div(targetOther, ops.sub(one, targetOther)); // β_y p_y for y ≠ a
    const wOthers = ops.neg(
      ops.add(
        ops.mul(perClass, sumBetaPOthers),
        ops.where(targetIsMax, zero, ops.mul(c(1 - eps), oddsTarget)),
      ),
    );
    const qMax = ops.add(perClass, ops.where(targetIsMax, c(1 - eps), zero));
    const rowFactor = ops.sub(one, ops.mul(c(rho), wOthers)); // 1 − ρW_o
    const g = ops.add(
      ops.mul(oneMinusMax, rowFactor),
      ops.mul(c(rho), ops.mul(ops.mul(qMax, pMax), betaOneMinusMax)),
    );
    // Every class but a and y: π_j G − ε/K (1 + ρ β_j p_j).
    const othersGrad = gradient(ops.mul(pi, scaled(g)));
    // y ≠ a: π_y G − q_y (1 + ρ β_y p_y). a: p_a (1 − ρW_o) − q_a (1 + ρ β_a δ p_a).
    const piTarget = ops.sumLastAxis(ops.where(isTarget, pi, zero));
    const targetGrad = ops.sub(
      ops.mul(piTarget, g),
      ops.mul(ops.add(perClass, c(1 - eps)), ops.add(one, ops.mul(c(rho), oddsTarget))),
    );
    const maxGrad = ops.sub(
      ops.mul(pMax, rowFactor),
      ops.mul(qMax, ops.add(one, ops.mul(c(rho), ops.mul(betaOneMinusMax, pMax)))),
    );
    const grad = ops.where(isMax, scaled(maxGrad), ops.where(isTarget, scaled(targetGrad), othersGrad));
    return { ce, bonus, grad };
  }

  let denominator: T | undefined;
  if (reduction === 'mean') {
    const total = rowWeight
      ? ops.sumAll(rowWeight)
      : ops.div(ops.sumAll(ops.castLike(ops.equal(logits, logits), logits)), ops.lastAxisSize(logits));
    // All ignored: Σℓ = 0, so divide by 1 and return 0 with a zero gradient.
    denominator = ops.where(ops.greater(total, zero), total, one);
  }
  // The gradient's per-row scale: w[y] · kept / denominator.
  let gradScale: T | undefined = rowWeight;
  if (want.grad && denominator) {
    gradScale = gradScale ? ops.div(gradScale, denominator) : ops.div(one, denominator);
  }

  const hard = targetType === 'indices' && labelSmoothing === 0 && options.input === 'logits';
  let perRow: { ce: T; bonus: T; grad?: T };
  if (hard) {
    perRow = hardTargetRows(ops, logits, isTarget!, want.grad, gradScale);
  } else if (targetType === 'indices' && options.input === 'logits' && logEnd <= 0.9) {
    // Scaled inside: the scale folds into row factors instead of another pass over [..., K].
    perRow = smoothedTargetRows(ops, logits, isTarget!, want.grad, gradScale);
  } else if (targetType === 'indices' && options.input === 'logits' && ops.argMaxLastAxis) {
    perRow = smoothedDominantRows(ops, logits, targets, isTarget!, want.grad, gradScale);
  } else {
    const logProbs = composedLogSoftmax(ops, logits);
    perRow = softTargetRows(ops, logProbs, ops.exp(logProbs), targets, isTarget, targetType, want.grad);
    if (perRow.grad && gradScale) perRow.grad = ops.mul(perRow.grad, gradScale);
  }

  // Per-row scale: w[y] · kept for integer targets (smoothed q is zeroed on ignored rows the same way).
  const scaleRows = (rows: T) => (rowWeight ? ops.mul(rows, rowWeight) : rows);
  const ceRows = scaleRows(perRow.ce);
  const bonusRows = scaleRows(perRow.bonus);
  const lossRows = ops.add(ceRows, ops.mul(c(rho), bonusRows));

  const reduce = (rows: T): T => {
    if (reduction === 'none') return ops.squeezeLastAxis(rows);
    const sum = ops.sumAll(rows);
    return denominator ? ops.div(sum, denominator) : sum;
  };

  const result: Computed<T> = { loss: reduce(lossRows) };
  if (want.components) {
    result.crossEntropy = reduce(ceRows);
    result.bonus = reduce(bonusRows);
  }
  if (want.grad) result.grad = perRow.grad;
  return result;
}

function computeSigmoidEncouragingLoss<T>(
  ops: TensorOps<T>,
  logits: T,
  targets: T,
  options: ResolvedSigmoidEncouragingLossOptions,
  withGrad: boolean,
): Computed<T> {
  const { logEnd, bonusWeight: rho, bonusFloor, reduction } = options;
  const c = (value: number) => ops.scalar(value, logits);
  const zero = c(0);
  const one = c(1);
  const tangentSlope = logEnd < 1 ? 1 / (1 - logEnd) : 0;
  const logOneMinusEnd = logEnd < 1 ? Math.log1p(-logEnd) : 0;

  const kept = ops.logicalNot(ops.equal(targets, ops.scalar(options.ignoreIndex, targets)));
  const positive = ops.logicalAnd(kept, ops.greater(targets, ops.scalar(0.5, targets)));
  // x_t = x for a positive label, −x for a negative one: p_t = σ(x_t), 1 − p_t = σ(−x_t).
  const signed = ops.where(positive, logits, ops.neg(logits));
  const crossEntropy = composedSoftplus(ops, ops.neg(signed)); // −log p_t
  const pTrue = ops.exp(ops.neg(crossEntropy));
  // log(1 − p_t) = −softplus(x_t): exact with no cancellation at any margin.
  const logOneMinusP = ops.neg(composedSoftplus(ops, signed));
  const inTangent = logEnd < 1 ? ops.greater(pTrue, c(logEnd)) : undefined;
  const logClamp = Math.log(bonusFloor);
  let clamped: T | undefined;
  if (bonusFloor > 0 && logEnd > 1 - bonusFloor) {
    clamped = ops.greater(c(logClamp), logOneMinusP);
    if (inTangent) clamped = ops.logicalAnd(clamped, ops.logicalNot(inTangent));
  }
  const tangent = ops.add(c(logOneMinusEnd), ops.mul(ops.sub(pTrue, c(logEnd)), c(-tangentSlope)));
  const logBonus = clamped ? ops.where(clamped, c(logClamp), logOneMinusP) : logOneMinusP;
  const bonus = inTangent ? ops.where(inTangent, tangent, logBonus) : logBonus;
  const bonusWeight = ops.mul(
    c(rho),
    ops.where(positive, c(options.positiveWeight), c(options.negativeWeight)),
  );
  const keptFloat = ops.castLike(kept, logits);
  const elementLoss = ops.mul(keptFloat, ops.add(crossEntropy, ops.mul(bonusWeight, bonus)));

  let denominator: T | undefined;
  if (reduction === 'mean') {
    const count = ops.sumAll(keptFloat);
    denominator = ops.where(ops.greater(count, zero), count, one);
  }
  const loss =
    reduction === 'none'
      ? elementLoss
      : denominator
        ? ops.div(ops.sumAll(elementLoss), denominator)
        : ops.sumAll(elementLoss);
  if (!withGrad) return { loss };

  // d/dx_t: −(1 − p_t) from the BCE, ρ w b'(p_t) p_t (1 − p_t) from the bonus: −p_t in the log region,
  // −s p_t (1 − p_t) on the tangent, 0 where the floor is active. 1 − p_t = σ(−x_t) exactly.
  const oneMinusP = ops.exp(logOneMinusP);
  let bonusSlope = ops.neg(pTrue);
  if (inTangent) {
    bonusSlope = ops.where(inTangent, ops.mul(ops.mul(pTrue, oneMinusP), c(-tangentSlope)), bonusSlope);
  }
  if (clamped) bonusSlope = ops.where(clamped, zero, bonusSlope);
  const slopeSigned = ops.sub(ops.mul(bonusWeight, bonusSlope), oneMinusP);
  let grad = ops.mul(keptFloat, ops.where(positive, slopeSigned, ops.neg(slopeSigned)));
  if (denominator) grad = ops.div(grad, denominator);
  return { loss, grad };
}
