import { isEncouragingLossError } from '@encouraging-loss/core';
import { describe, expect, it } from 'vitest';
import { buildEncouragingLossModel, buildSigmoidEncouragingLossModel } from './build-model.js';

const FLOAT32_MAX = 3.4028234663852886e38; // (2 − 2⁻²³) · 2¹²⁷
// Halfway between FLOAT32_MAX and 2¹²⁸: the smallest float64 that rounds to ∞ in float32 (ties to even).
const FIRST_OVERFLOW = 3.4028235677973366e38;

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(isEncouragingLossError(error), String(error)).toBe(true);
    return (error as { code: string }).code;
  }
  return undefined;
}

describe('weights must fit in float32, the graphs dtype', () => {
  it('accepts the largest float32 and refuses the first float64 that rounds to infinity', () => {
    expect(Number.isFinite(Math.fround(FIRST_OVERFLOW - 2 ** 100))).toBe(true);
    expect(Math.fround(FIRST_OVERFLOW)).toBe(Number.POSITIVE_INFINITY);
    for (const build of [
      (w: number) => buildEncouragingLossModel({ bonusWeight: w }),
      (w: number) => buildEncouragingLossModel({ classWeights: [1, w] }),
      (w: number) => buildSigmoidEncouragingLossModel({ bonusWeight: w }),
      (w: number) => buildSigmoidEncouragingLossModel({ negativeWeight: w }),
      (w: number) => buildSigmoidEncouragingLossModel({ positiveWeight: w }),
    ]) {
      expect(code(() => build(FLOAT32_MAX))).toBeUndefined();
      expect(code(() => build(FIRST_OVERFLOW))).toBe('INVALID_OPTION');
      expect(code(() => build(1e308))).toBe('INVALID_OPTION');
    }
  });

  it('names the option, its value and the way out', () => {
    expect(() => buildEncouragingLossModel({ classWeights: [1, 2, 1e308] })).toThrow(
      /classWeights\[2\] is 1e\+308, beyond float32 \(max 3\.4028235e\+38\).*dividing every class weight by the largest/,
    );
  });
});
