import type { ResolvedEncouragingLossOptions } from './options.js';

/** The dominant class's (p_a > 1/2) share of a row's loss and gradient. */
export interface DominantTerms {
  /** b(p_a). */
  bonus: number;
  /** −β_a (1 − p_a): the bonus part of its own gradient entry, per ρ q_a p_a. */
  self: number;
  /** β_a where it is bounded (tangent, logEnd < 1, or clamped); unused on EL's log part. */
  beta: number;
  /** On EL's log part (logEnd = 1): β_a p_j must be formed as p_j / (1 − p_a) from the row's sums. */
  inLog: boolean;
}

/** A row without a dominant class. */
export const NO_DOMINANT: DominantTerms = { bonus: 0, self: 0, beta: 0, inLog: false };

/** A non-dominant target's (p_y ≤ 1/2) β, −β(1 − p_y) and 1 − p_y. */
export interface TargetTerms {
  beta: number;
  self: number;
  oneMinus: number;
}

/** log1p(−p) for p in [0, 1/2]; a short series below 1e-3 (error < p⁶/6 < 2e-19) saves the log call. */
export function log1pNeg(p: number): number {
  if (p < 1e-3) return -p * (1 + p * (1 / 2 + p * (1 / 3 + p * (1 / 4 + p * (1 / 5)))));
  return Math.log1p(-p);
}

/**
 * The per-row scalar formulas of the bonus that the fused kernels (pure JS and WebAssembly) share: the vector
 * passes differ, the math here is written once (docs/encouraging-loss.md). β(p) = −b'(p): 1/(1 − p) on the log
 * part, s = 1/(1 − logEnd) on the tangent, 0 where the floor on 1 − p is active. The floor (< 0.1) can only act
 * on a dominant class (1 − p < 1/2).
 */
export function bonusTerms(options: ResolvedEncouragingLossOptions) {
  const { logEnd, bonusFloor } = options;
  const slope = logEnd < 1 ? 1 / (1 - logEnd) : 0;
  const logOneMinusEnd = logEnd < 1 ? Math.log1p(-logEnd) : 0;
  // log(floor), compared with the exact log(1 − p_a); −∞ without a floor, so nothing is below it.
  const logFloor = bonusFloor > 0 ? Math.log(bonusFloor) : Number.NEGATIVE_INFINITY;
  return {
    slope,
    logOneMinusEnd,
    /** b(p) for a non-dominant class (p ≤ 1/2: 1 − p ≥ 1/2 is never clamped). */
    bonusOf: (p: number): number => (p > logEnd ? logOneMinusEnd - (p - logEnd) * slope : log1pNeg(p)),
    /** β(p) · p for a non-dominant class. */
    betaTimes: (p: number): number => (p > logEnd ? slope * p : p / (1 - p)),
    /** The dominant class's terms from p_a and its exact log(1 − p_a). */
    dominant(pArgmax: number, logOneMinusDominant: number): DominantTerms {
      if (pArgmax > logEnd) {
        return {
          bonus: logOneMinusEnd - (pArgmax - logEnd) * slope,
          self: -slope * Math.exp(logOneMinusDominant),
          beta: slope,
          inLog: false,
        };
      }
      if (logOneMinusDominant < logFloor) {
        // log(max(1 − p, floor)): the floor's value, zero derivative while it is active.
        return { bonus: logFloor, self: 0, beta: 0, inLog: false };
      }
      return {
        bonus: logOneMinusDominant,
        self: -1,
        beta: Math.exp(-logOneMinusDominant),
        inLog: logEnd === 1,
      };
    },
    /** A non-dominant target's terms (p_y ≤ 1/2: 1 − p_y has no cancellation). */
    target(pTarget: number): TargetTerms {
      const oneMinus = 1 - pTarget;
      return pTarget > logEnd
        ? { beta: slope, self: -slope * oneMinus, oneMinus }
        : { beta: 1 / oneMinus, self: -1, oneMinus };
    },
  };
}
