import { encouragingLossWithGrad, lossPreset } from '@encouraging-loss/core';

/** The three losses of the figure, each with its core options. */
export const CURVE_NAMES = ['CE', 'EL', 'CEL'] as const;
export type CurveName = (typeof CURVE_NAMES)[number];

/** The sliders of the figure. */
export interface FigureSettings {
  /** Where CEL's tangent starts, in (0, 1). */
  logEnd: number;
  /** Weight ρ of the bonus for EL and CEL. */
  bonusWeight: number;
  /** Label smoothing ε, for all three losses. */
  labelSmoothing: number;
}

export const DEFAULT_SETTINGS: FigureSettings = { logEnd: 0.75, bonusWeight: 1, labelSmoothing: 0 };

/** The core options of one curve under the given settings: CE has no bonus, EL no tangent. */
export function curveOptions(name: CurveName, settings: FigureSettings) {
  const { logEnd, bonusWeight, labelSmoothing } = settings;
  switch (name) {
    case 'CE':
      return lossPreset('ce', { labelSmoothing });
    case 'EL':
      return lossPreset('el', { bonusWeight, labelSmoothing });
    case 'CEL':
      return lossPreset('cel', { logEnd, bonusWeight, labelSmoothing });
  }
}

/** Loss and ∂ℓ/∂z_y of every curve at each p; `loss[c][i]` belongs to curve `CURVE_NAMES[c]` at `p[i]`. */
export interface FigureData {
  p: number[];
  loss: number[][];
  targetGradient: number[][];
}

/** Two-class logits whose softmax gives the target exactly p: [log p − log(1 − p), 0]. */
export function logitsFor(p: number) {
  return { data: new Float64Array([Math.log(p) - Math.log1p(-p), 0]), shape: [1, 2] };
}

/**
 * The figure's points, computed by `@encouraging-loss/core` (float64 typed-array kernel) on two-class logits
 * [logit(p), 0] with target class 0, one call per point and curve: nothing is precomputed.
 */
export function figureData(probabilities: number[], settings: FigureSettings): FigureData {
  const targets = { data: new Int32Array([0]), shape: [1] };
  const loss = CURVE_NAMES.map(() => [] as number[]);
  const targetGradient = CURVE_NAMES.map(() => [] as number[]);
  for (const p of probabilities) {
    const logits = logitsFor(p);
    CURVE_NAMES.forEach((name, c) => {
      const result = encouragingLossWithGrad(logits, targets, curveOptions(name, settings));
      loss[c].push(result.loss.data[0]);
      targetGradient[c].push(result.grad.data[0]);
    });
  }
  return { p: probabilities, loss, targetGradient };
}

/** `count` probabilities spread over (0, 1), denser near both ends where the curves bend. */
export function probabilityGrid(count: number): number[] {
  return Array.from({ length: count }, (_, i) => {
    const t = (i + 0.5) / count;
    // A smoothstep-like map t → p that keeps the end points off 0 and 1.
    return 0.5 - 0.5 * Math.cos(Math.PI * t);
  });
}

/** The p values listed in the page's table of values (and checked by the browser test). */
export const TABLE_PROBABILITIES = [0.01, 0.1, 0.25, 0.5, 0.7, 0.75, 0.9, 0.99, 0.999];
