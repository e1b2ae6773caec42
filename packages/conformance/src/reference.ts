import type { EncouragingLossOptions, SigmoidEncouragingLossOptions } from '@encouraging-loss/core';
import Decimal from 'decimal.js';

/**
 * High-precision reference values for the conformance suite, computed with decimal.js from the definitions alone
 * (docs/encouraging-loss.md), not from any backend's code: p = softmax(z) and 1 − p evaluated directly with enough
 * digits that nothing cancels, the bonus and its derivative straight from the definition, and the gradient from
 * the general soft-target formula ∂ℓ/∂z_j = Σ_k q_k (p_j − δ_kj) + ρ Σ_k q_k b'(p_k) p_k (δ_kj − p_j). That formula
 * is itself checked against high-precision finite differences in this package's own tests.
 */

type D = Decimal;

const HighPrecision = Decimal.clone({
  precision: 60,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
  minE: -9e15,
  maxE: 9e15,
});

/** A Decimal constructor with enough digits that 1 − p keeps ≥ 40 significant digits for margins up to `margin`. */
function decimalFor(margin: number): typeof Decimal {
  const digits = 50 + Math.ceil(Math.max(0, margin) / Math.LN10);
  return digits <= 60 ? HighPrecision : HighPrecision.clone({ precision: digits });
}

/** Reference options with every default applied (the defaults as documented, restated here on purpose). */
interface ReferenceOptions {
  logEnd: number;
  bonusWeight: number;
  labelSmoothing: number;
  ignoreIndex: number;
  reduction: 'mean' | 'sum' | 'none';
  classWeights?: ArrayLike<number>;
  /** The floor on 1 − p inside the bonus (official `cl_eps`); 0 = none. */
  bonusFloor: number;
  input: 'logits' | 'logProbs' | 'probabilities';
}

function withDefaults(options: EncouragingLossOptions): ReferenceOptions {
  return {
    logEnd: options.logEnd ?? 0.75,
    bonusWeight: options.bonusWeight ?? 1,
    labelSmoothing: options.labelSmoothing ?? 0,
    ignoreIndex: options.ignoreIndex ?? -100,
    reduction: options.reduction ?? 'mean',
    classWeights: options.classWeights,
    bonusFloor: options.bonusFloor ?? 1e-5,
    input: options.input ?? 'logits',
  };
}

/** Reference result: numbers rounded from the high-precision values. */
export interface ReferenceResult {
  loss: number[];
  lossShape: number[];
  crossEntropy: number[];
  bonus: number[];
  grad: number[];
}

interface Bonus {
  value: D;
  /** b'(p) */
  slope: D;
}

function bonusOf(Dec: typeof Decimal, p: D, o: ReferenceOptions): Bonus {
  const one = new Dec(1);
  const logEnd = new Dec(o.logEnd);
  if (o.logEnd < 1 && p.gt(logEnd)) {
    const slope = one.div(logEnd.minus(1));
    return { value: one.minus(logEnd).ln().plus(p.minus(logEnd).times(slope)), slope };
  }
  const oneMinus = one.minus(p);
  // log(max(1 − p, floor)): the floor's value with a zero derivative where it is active (p > 1 − floor).
  if (o.bonusFloor > 0 && oneMinus.lt(o.bonusFloor)) {
    return { value: new Dec(o.bonusFloor).ln(), slope: new Dec(0) };
  }
  return { value: oneMinus.ln(), slope: one.div(oneMinus).neg() };
}

/** Softmax in high precision: log p and p of one row. */
function softmaxRow(Dec: typeof Decimal, row: ArrayLike<number>, input: ReferenceOptions['input']) {
  let z = Array.from(row, (v) => new Dec(v));
  if (input === 'probabilities') {
    const tiny = new Dec(1.1754943508222875e-38);
    z = z.map((v) => Dec.max(v, tiny).ln());
  }
  const max = Dec.max(...z);
  const sum = z.reduce((acc, v) => acc.plus(v.minus(max).exp()), new Dec(0));
  const logSum = max.plus(sum.ln());
  const logP = z.map((v) => v.minus(logSum));
  return { logP, p: logP.map((v) => v.exp()) };
}

/**
 * Reference softmax EL/CEL: loss, parts and gradient with respect to the input.
 *
 * @param logits - row-major `[...B, K]` values (already rounded to the backend's precision).
 * @param targets - class indices `[...B]` or soft targets `[...B, K]`.
 */
export function referenceEncouragingLoss(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number>; shape: readonly number[] },
  targetType: 'indices' | 'probabilities',
  options: EncouragingLossOptions,
): ReferenceResult {
  const key = cacheKey(logits, targets, targetType, options);
  const cached = cache.get(key);
  if (cached) return cached;
  const o = withDefaults(options);
  const K = logits.shape[logits.shape.length - 1];
  const result =
    K > LARGE_K
      ? largeVocabularyReference(logits, targets, targetType, o)
      : decimalReference(logits, targets, targetType, o);
  cache.set(key, result);
  return result;
}

/** Above this K the reference runs in float64 with compensated sums (decimal exp for 64 000 classes is slow). */
const LARGE_K = 512;
const cache = new Map<string, ReferenceResult>();

function cacheKey(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number>; shape: readonly number[] },
  targetType: string,
  options: EncouragingLossOptions,
): string {
  let hash = 0;
  for (const v of [...Array.from(logits.data), ...Array.from(targets.data)]) {
    hash = (Math.imul(hash, 31) + Math.round(v * 1e6) + Math.round((v * 1e12) % 1e6)) | 0;
  }
  return JSON.stringify([
    logits.shape,
    targets.shape,
    targetType,
    { ...options, classWeights: options.classWeights && Array.from(options.classWeights) },
    hash,
    logits.data.length,
  ]);
}

/** Neumaier-compensated sum: error ~ one ulp of the result, independent of the count. */
function compensatedSum(values: ArrayLike<number>): number {
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const t = sum + v;
    compensation += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + compensation;
}

/**
 * The same definitions in float64 for large K (logits input, class-index targets): p_k = exp(z_k − LSE) with the
 * LSE and 1 − p_a = Σ_{j≠a} p_j summed with compensation, log(1 − p_k) = log1p(−p_k) for p_k ≤ 1/2, and the
 * general soft-target gradient formula. Every element is within a few ulps, far inside any tolerance.
 */
function largeVocabularyReference(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number>; shape: readonly number[] },
  targetType: 'indices' | 'probabilities',
  o: ReferenceOptions,
): ReferenceResult {
  if (targetType !== 'indices' || o.input !== 'logits' || o.classWeights || o.reduction === 'none') {
    throw new Error('largeVocabularyReference covers logits with class indices and mean/sum reduction only');
  }
  const K = logits.shape[logits.shape.length - 1];
  const rows = logits.data.length / K;
  let loss = 0;
  let ce = 0;
  let bonus = 0;
  let kept = 0;
  const grad = new Float64Array(logits.data.length);
  for (let r = 0; r < rows; r++) {
    const y = targets.data[r];
    if (y === o.ignoreIndex) continue;
    kept++;
    const z = Array.prototype.slice.call(logits.data, r * K, r * K + K) as number[];
    const max = Math.max(...z);
    const lse = max + Math.log(compensatedSum(z.map((v) => Math.exp(v - max))));
    const logP = z.map((v) => v - lse);
    const p = logP.map(Math.exp);
    const q = p.map((_, k) => o.labelSmoothing / K + (k === y ? 1 - o.labelSmoothing : 0));
    const oneMinusOf = p.map((pk, k) => (pk > 0.5 ? compensatedSum(p.filter((_, j) => j !== k)) : 1 - pk));
    const values = p.map((pk, k) => {
      const oneMinus = oneMinusOf[k];
      if (o.logEnd < 1 && pk > o.logEnd) {
        const slope = 1 / (o.logEnd - 1);
        return { b: Math.log1p(-o.logEnd) + (pk - o.logEnd) * slope, slope };
      }
      if (o.bonusFloor > 0 && oneMinus < o.bonusFloor) return { b: Math.log(o.bonusFloor), slope: 0 };
      return { b: pk > 0.5 ? Math.log(oneMinus) : Math.log1p(-pk), slope: -1 / oneMinus };
    });
    const rowCe = -compensatedSum(q.map((qk, k) => qk * logP[k]));
    const rowBonus = compensatedSum(q.map((qk, k) => qk * values[k].b));
    ce += rowCe;
    bonus += rowBonus;
    loss += rowCe + o.bonusWeight * rowBonus;
    // w_k = q_k b'(p_k) p_k. For the dominant class a (p_a > 1/2) w_a (1 − p_a) is expanded as
    // q_a b'(p_a) p_a (1 − p_a) with the compensated 1 − p_a, so nothing cancels.
    const w = q.map((qk, k) => qk * values[k].slope * p[k]);
    const a = p.findIndex((pk) => pk > 0.5);
    const wRest = compensatedSum(w.map((wk, k) => (k === a ? 0 : wk)));
    for (let j = 0; j < K; j++) {
      const dominantPart = a < 0 ? 0 : j === a ? w[a] * oneMinusOf[a] : -p[j] * w[a];
      grad[r * K + j] = p[j] - q[j] + o.bonusWeight * ((j === a ? 0 : w[j]) - p[j] * wRest + dominantPart);
    }
  }
  const scale = o.reduction === 'mean' ? (kept > 0 ? 1 / kept : 0) : 1;
  return {
    loss: [loss * scale],
    lossShape: [],
    crossEntropy: [ce * scale],
    bonus: [bonus * scale],
    grad: Array.from(grad, (g) => g * scale),
  };
}

function decimalReference(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number>; shape: readonly number[] },
  targetType: 'indices' | 'probabilities',
  o: ReferenceOptions,
): ReferenceResult {
  const K = logits.shape[logits.shape.length - 1];
  const rows = logits.data.length / K;
  let maxMargin = 0;
  for (let r = 0; r < rows; r++) {
    let hi = -Infinity;
    let lo = Infinity;
    for (let j = 0; j < K; j++) {
      hi = Math.max(hi, logits.data[r * K + j]);
      lo = Math.min(lo, logits.data[r * K + j]);
    }
    maxMargin = Math.max(maxMargin, hi - lo);
  }
  const Dec = decimalFor(o.input === 'probabilities' ? 100 : maxMargin);
  const rho = new Dec(o.bonusWeight);
  const rowLoss: D[] = [];
  const rowCe: D[] = [];
  const rowBonus: D[] = [];
  const rowGrad: D[][] = [];
  const rowWeight: D[] = [];

  for (let r = 0; r < rows; r++) {
    const { logP, p } = softmaxRow(Dec, Array.prototype.slice.call(logits.data, r * K, r * K + K), o.input);
    let q: D[];
    let weight = new Dec(1);
    if (targetType === 'indices') {
      const y = targets.data[r];
      if (y === o.ignoreIndex) {
        rowLoss.push(new Dec(0));
        rowCe.push(new Dec(0));
        rowBonus.push(new Dec(0));
        rowGrad.push(new Array(K).fill(new Dec(0)));
        rowWeight.push(new Dec(0));
        continue;
      }
      const eps = new Dec(o.labelSmoothing);
      q = Array.from({ length: K }, (_, k) => eps.div(K).plus(k === y ? new Dec(1).minus(eps) : 0));
      if (o.classWeights) weight = new Dec(o.classWeights[y]);
    } else {
      q = Array.from({ length: K }, (_, k) => {
        const qk = new Dec(targets.data[r * K + k]);
        return o.classWeights ? qk.times(o.classWeights[k]) : qk;
      });
    }
    let ce = new Dec(0);
    let bonus = new Dec(0);
    const slopes: D[] = [];
    for (let k = 0; k < K; k++) {
      const b = bonusOf(Dec, p[k], o);
      slopes.push(b.slope);
      ce = ce.minus(q[k].times(logP[k]));
      bonus = bonus.plus(q[k].times(b.value));
    }
    rowCe.push(ce.times(weight));
    rowBonus.push(bonus.times(weight));
    rowLoss.push(ce.plus(rho.times(bonus)).times(weight));
    rowWeight.push(weight);
    const totalQ = q.reduce((a, v) => a.plus(v), new Dec(0));
    // w_k = q_k b'(p_k) p_k; W = Σ w_k.
    const w = q.map((qk, k) => qk.times(slopes[k]).times(p[k]));
    const W = w.reduce((a, v) => a.plus(v), new Dec(0));
    const grad: D[] = [];
    for (let j = 0; j < K; j++) {
      if (o.input === 'logits') {
        grad.push(
          totalQ
            .times(p[j])
            .minus(q[j])
            .plus(rho.times(w[j].minus(p[j].times(W))))
            .times(weight),
        );
      } else {
        // Partial derivatives with the inputs independent: ∂ℓ/∂log p_j = −q_j + ρ q_j b'(p_j) p_j.
        const gLog = q[j].neg().plus(rho.times(w[j])).times(weight);
        grad.push(o.input === 'logProbs' ? gLog : gLog.div(Dec.max(p[j], new Dec(1.1754943508222875e-38))));
      }
    }
    rowGrad.push(grad);
  }

  const batchShape = logits.shape.slice(0, -1);
  let scale = new Dec(1);
  if (o.reduction === 'mean') {
    const total =
      targetType === 'indices' ? rowWeight.reduce((a, v) => a.plus(v), new Dec(0)) : new Dec(rows);
    scale = total.gt(0) ? new Dec(1).div(total) : new Dec(0);
  }
  const reduce = (values: D[]): number[] =>
    o.reduction === 'none'
      ? values.map((v) => v.toNumber())
      : [
          values
            .reduce((a, v) => a.plus(v), new Dec(0))
            .times(o.reduction === 'mean' ? scale : 1)
            .toNumber(),
        ];
  const gradScale = o.reduction === 'mean' ? scale : new Dec(1);
  return {
    loss: reduce(rowLoss),
    lossShape: o.reduction === 'none' ? batchShape : [],
    crossEntropy: reduce(rowCe),
    bonus: reduce(rowBonus),
    grad: rowGrad.flatMap((g) => g.map((v) => v.times(gradScale).toNumber())),
  };
}

/** Reference multi-label (sigmoid) EL: per-element BCE-with-logits plus ρ·w·b(p_t). */
export function referenceSigmoidEncouragingLoss(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number> },
  options: SigmoidEncouragingLossOptions,
): { loss: number[]; lossShape: number[]; grad: number[] } {
  const o = {
    ...withDefaults({
      logEnd: options.logEnd,
      bonusWeight: options.bonusWeight,
      bonusFloor: options.bonusFloor,
    }),
    ignoreIndex: options.ignoreIndex ?? -100,
    reduction: options.reduction ?? 'mean',
  };
  let maxAbs = 0;
  for (let i = 0; i < logits.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(logits.data[i]));
  const Dec = decimalFor(maxAbs);
  const one = new Dec(1);
  const losses: D[] = [];
  const grads: D[] = [];
  let kept = 0;
  for (let i = 0; i < logits.data.length; i++) {
    const t = targets.data[i];
    if (t === o.ignoreIndex) {
      losses.push(new Dec(0));
      grads.push(new Dec(0));
      continue;
    }
    kept++;
    const sign = t === 1 ? 1 : -1;
    const xt = new Dec(logits.data[i]).times(sign);
    const pt = one.div(one.plus(xt.neg().exp()));
    const b = bonusOf(Dec, pt, o);
    const weight = new Dec(o.bonusWeight).times(
      t === 1 ? (options.positiveWeight ?? 1) : (options.negativeWeight ?? 1),
    );
    losses.push(pt.ln().neg().plus(weight.times(b.value)));
    // d/dx_t: −(1 − p_t) + w b'(p_t) p_t (1 − p_t)
    const oneMinus = one.minus(pt);
    grads.push(oneMinus.neg().plus(weight.times(b.slope).times(pt).times(oneMinus)).times(sign));
  }
  const scale = o.reduction === 'mean' ? (kept > 0 ? one.div(kept) : new Dec(0)) : one;
  return {
    loss:
      o.reduction === 'none'
        ? losses.map((v) => v.toNumber())
        : [
            losses
              .reduce((a, v) => a.plus(v), new Dec(0))
              .times(scale)
              .toNumber(),
          ],
    lossShape: o.reduction === 'none' ? [...logits.shape] : [],
    grad: grads.map((g) => g.times(scale).toNumber()),
  };
}

/**
 * Central finite differences of the high-precision reference loss (sum reduction), in Decimal with a step of
 * 1e-25: an independent check of the closed-form reference gradient. Small inputs only.
 */
export function referenceFiniteDifferences(
  logits: { data: ArrayLike<number>; shape: readonly number[] },
  targets: { data: ArrayLike<number>; shape: readonly number[] },
  targetType: 'indices' | 'probabilities',
  options: EncouragingLossOptions,
): number[] {
  const Dec = HighPrecision.clone({ precision: 80 });
  const o = withDefaults(options);
  const K = logits.shape[logits.shape.length - 1];
  const lossAt = (values: D[]): D => {
    // The same definition as above, for one perturbed input, sum reduction, logits input.
    const rows = values.length / K;
    let total = new Dec(0);
    for (let r = 0; r < rows; r++) {
      const z = values.slice(r * K, r * K + K);
      const max = Dec.max(...z);
      const logSum = max.plus(z.reduce((a, v) => a.plus(v.minus(max).exp()), new Dec(0)).ln());
      let q: D[];
      let weight = new Dec(1);
      if (targetType === 'indices') {
        const y = targets.data[r];
        if (y === o.ignoreIndex) continue;
        const eps = new Dec(o.labelSmoothing);
        q = Array.from({ length: K }, (_, k) => eps.div(K).plus(k === y ? new Dec(1).minus(eps) : 0));
        if (o.classWeights) weight = new Dec(o.classWeights[y]);
      } else {
        q = Array.from({ length: K }, (_, k) => new Dec(targets.data[r * K + k]));
      }
      for (let k = 0; k < K; k++) {
        const logP = z[k].minus(logSum);
        const b = bonusOf(Dec, logP.exp(), o);
        total = total.plus(q[k].times(logP.neg().plus(new Dec(o.bonusWeight).times(b.value))).times(weight));
      }
    }
    return total;
  };
  const base = Array.from(logits.data, (v) => new Dec(v));
  const h = new Dec('1e-25');
  return base.map((_, i) => {
    const plus = base.slice();
    const minus = base.slice();
    plus[i] = plus[i].plus(h);
    minus[i] = minus[i].minus(h);
    return lossAt(plus).minus(lossAt(minus)).div(h.times(2)).toNumber();
  });
}
