import { EncouragingLossError } from './errors.js';
import type { EncouragingLossOptions } from './options.js';

/** The four losses a comparison runs: cross-entropy, label-smoothed CE, plain EL and conservative EL. */
export type LossPresetName = 'ce' | 'ls' | 'el' | 'cel';

/** The settings a preset reads; each applies only where it means something for that loss. */
export interface LossPresetSettings {
  /** CEL's tangent point (CEL only). Default `0.75` (the official class default; the paper's MT setting is 0.5). */
  logEnd?: number;
  /** ρ of EL and CEL. Default `1`. */
  bonusWeight?: number;
  /** ε. Default `0`, except `'ls'`: `0.1`. EL and CEL smooth their bonus too. */
  labelSmoothing?: number;
  /** EL's floor on 1 − p (EL and CEL). Default: core's (`1e-5`). */
  bonusFloor?: number;
}

/**
 * The loss options of a named loss: CE is EL with `bonusWeight: 0` (and `'ls'` CE with label smoothing, 0.1 by
 * default), EL is `logEnd: 1`, CEL keeps `logEnd`. One mapping for every app and example that compares losses.
 *
 * @example
 * ```ts
 * encouragingLossWithGrad(logits, targets, { ...lossPreset('cel', { logEnd: 0.5, labelSmoothing: 0.1 }) });
 * ```
 */
export function lossPreset(name: LossPresetName, settings: LossPresetSettings = {}): EncouragingLossOptions {
  const { logEnd, bonusWeight = 1, labelSmoothing, bonusFloor } = settings;
  const floor = bonusFloor === undefined ? {} : { bonusFloor };
  switch (name) {
    case 'ce':
      return { bonusWeight: 0, logEnd: 1, labelSmoothing: labelSmoothing ?? 0 };
    case 'ls':
      return { bonusWeight: 0, logEnd: 1, labelSmoothing: labelSmoothing ?? 0.1 };
    case 'el':
      return { bonusWeight, logEnd: 1, labelSmoothing: labelSmoothing ?? 0, ...floor };
    case 'cel':
      return { bonusWeight, logEnd: logEnd ?? 0.75, labelSmoothing: labelSmoothing ?? 0, ...floor };
    default:
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `Loss must be one of 'ce', 'ls', 'el', 'cel', got ${JSON.stringify(name)}.`,
      );
  }
}
