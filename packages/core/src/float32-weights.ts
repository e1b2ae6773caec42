import { EncouragingLossError } from './errors.js';

/** The weights among the loss options that a float32 backend holds as tensor values or graph constants. */
export interface Float32Weights {
  bonusWeight?: number;
  classWeights?: ArrayLike<number>;
  positiveWeight?: number;
  negativeWeight?: number;
}

/**
 * Checks that the weights fit in float32, for a backend that computes the loss in float32 (tfjs tensors, the ONNX
 * graphs): a value that rounds to ∞ in float32 (above ~3.4028235e38) cannot be a float32 value (the loss would be
 * NaN, or a graph constant silently FLT_MAX), so it is `INVALID_OPTION`. `resolveOptions` has already checked the
 * values are finite float64 numbers. Weights within the range can still overflow float32 in products
 * (ρ · p / (1 − p), Σ w over a batch): keep them moderate; with `'mean'` the loss does not change when every class
 * weight is divided by the largest.
 *
 * @param options - the loss options (only the weights are read).
 * @param where - the dtype's owner, for the message (e.g. `'the dtype tfjs computes the loss in'`).
 * @throws EncouragingLossError `INVALID_OPTION` naming the option, its value and the float32 limit.
 */
export function checkFloat32Weights(options: Float32Weights, where: string): void {
  const check = (name: string, value: number | undefined) => {
    if (value !== undefined && !Number.isFinite(Math.fround(value))) {
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `Option ${name} is ${value}, beyond float32 (max 3.4028235e+38), ${where}; ` +
          "rescale it (with reduction 'mean', dividing every class weight by the largest gives the same loss).",
      );
    }
  };
  check('bonusWeight', options.bonusWeight);
  check('positiveWeight', options.positiveWeight);
  check('negativeWeight', options.negativeWeight);
  const weights = options.classWeights;
  for (let k = 0; weights && k < weights.length; k++) check(`classWeights[${k}]`, weights[k]);
}
