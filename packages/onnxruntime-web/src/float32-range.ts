import { EncouragingLossError } from '@encouraging-loss/core';

/** The weights among the loss options that a float32 graph holds as constants. */
export interface Float32Weights {
  bonusWeight?: number;
  classWeights?: ArrayLike<number>;
  positiveWeight?: number;
  negativeWeight?: number;
}

/**
 * Checks the weights fit in float32, the dtype the loss graphs compute in: a value that rounds to ∞ in float32
 * (above ~3.4028235e38) cannot be a graph constant (the loss would be NaN or silently use FLT_MAX instead), so it
 * is an `INVALID_OPTION`. Core has already checked the values are finite float64 numbers.
 *
 * Weights within the range can still overflow float32 in products (ρ · p / (1 − p), Σ w over a batch): keep them
 * moderate. With `'mean'` the loss does not change when every class weight is divided by the largest.
 *
 * @throws EncouragingLossError `INVALID_OPTION` naming the option, its value and the float32 limit.
 */
export function checkFloat32Range(options: Float32Weights): void {
  const check = (name: string, value: number | undefined) => {
    if (value !== undefined && !Number.isFinite(Math.fround(value))) {
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `Option ${name} is ${value}, beyond float32 (max 3.4028235e+38), the dtype of the ONNX loss graphs; ` +
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
