import { toBeAllClose } from '@encouraging-loss/conformance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEncouragingLoss } from './composed.js';
import type { EncouragingLossOptions } from './options.js';
import { type ArrayDType, arrayTensor, typedArrayOps } from './typed-array-ops.js';

expect.extend({ toBeAllClose });
declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match vitest's own declaration.
  interface Matchers<T = any> {
    toBeAllClose(expected: ArrayLike<number>, tolerance?: { rtol?: number; atol?: number }): T;
  }
}

const composed = createEncouragingLoss(typedArrayOps);

/** Rows of K classes where class `r % K` of row r leads (or trails, for a negative margin) by `margin`. */
function marginLogits(rows: number, K: number, margin: number): number[] {
  return Array.from({ length: rows * K }, (_, i) => {
    const [r, j] = [Math.floor(i / K), i % K];
    return j === r % K ? margin : -0.1 * j;
  });
}

describe('composed math at margins past the float32 range of exp', () => {
  const K = 5;
  const variants: EncouragingLossOptions[] = [
    { logEnd: 1, bonusFloor: 0 },
    { logEnd: 1, bonusWeight: 5, bonusFloor: 0 },
    { logEnd: 1 },
    { logEnd: 0.75 },
    { logEnd: 1, numerics: 'reference' },
    { logEnd: 1, labelSmoothing: 0.1 },
    { logEnd: 0.75, labelSmoothing: 0.1, bonusWeight: 5 },
    { logEnd: 0.3, labelSmoothing: 0.1 },
    { logEnd: 1, labelSmoothing: 0.1, numerics: 'reference' },
  ];
  for (const options of variants) {
    for (const margin of [90, 150, 1000, -1000]) {
      it(`loss and gradient stay finite: margin ${margin}, ${JSON.stringify(options)}`, () => {
        const logits = arrayTensor(marginLogits(4, K, margin), [4, K], 'float32');
        const targets = arrayTensor([0, 1, 2, 3], [4], 'int32');
        const { loss, grad } = composed.encouragingLossWithGrad(logits, targets, options);
        for (const v of [...loss.data, ...grad.data]) expect(Number.isFinite(v)).toBe(true);
        const plainEL = options.logEnd === 1 && !options.labelSmoothing;
        if (margin > 0 && plainEL && options.bonusFloor === 0) {
          // The target entry of EL is −(1 − p_y) − ρ p_y, divided by 4 rows: −ρ/4 at any margin.
          expect(grad.data[0]).toBeCloseTo(-(options.bonusWeight ?? 1) / 4, 6);
        } else if (margin > 0 && plainEL) {
          // Past the floor (1 − p_y < 1e-5) only cross-entropy's −(1 − p_y) ≈ 0 is left, and the loss is
          // −log p_y + log 1e-5 per row: bounded.
          expect(Math.abs(grad.data[0])).toBeLessThan(1e-6);
          expect(loss.data[0]).toBeCloseTo(Math.log(1e-5), 5);
        }
      });
    }
  }
});

describe('hard targets past the float32 range of exp', () => {
  // Row [M, 0, −1], target 0. As M → ∞ (independently of the code): 1 − p_y → e^−M (1 + e^−1), so
  // bonus = log(1 − p_y) → −M + log(1 + e^−1), CE → 0; EL's gradient is −ρ at the target and
  // p_j (1 + ρ p_y / (1 − p_y)) → ρ · [1, e^−1] / (1 + e^−1) elsewhere; CEL's tangent factor is bounded, so 0.
  const share = [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const margin of [100, 200, 1000]) {
      for (const bonusWeight of [1, 2.5]) {
        it(`EL ρ=${bonusWeight} is exact at margin ${margin} (${dtype})`, () => {
          const logits = arrayTensor([margin, 0, -1], [1, 3], dtype);
          const targets = arrayTensor([0], [1], 'int32');
          const options = { logEnd: 1, bonusWeight, bonusFloor: 0, reduction: 'sum' } as const;
          const { loss, grad } = composed.encouragingLossWithGrad(logits, targets, options);
          const { crossEntropy, bonus } = composed.encouragingLossComponents(logits, targets, options);
          const tolerance = dtype === 'float32' ? { rtol: 5e-5, atol: 2e-6 } : { rtol: 1e-9, atol: 1e-12 };
          const expectedBonus = -margin + Math.log1p(Math.exp(-1));
          expect(crossEntropy.data).toBeAllClose([0], tolerance);
          expect(bonus.data).toBeAllClose([expectedBonus], tolerance);
          expect(loss.data).toBeAllClose([bonusWeight * expectedBonus], tolerance);
          expect(grad.data).toBeAllClose(
            [-bonusWeight, bonusWeight * share[0]!, bonusWeight * share[1]!],
            tolerance,
          );
        });
      }
      it(`CEL's gradient vanishes off the target at margin ${margin} (${dtype})`, () => {
        const logits = arrayTensor([margin, 0, -1], [1, 3], dtype);
        const targets = arrayTensor([0], [1], 'int32');
        const { grad } = composed.encouragingLossWithGrad(logits, targets, {
          logEnd: 0.75,
          reduction: 'sum',
        });
        // Target entry −(1 − p_y)(1 + ρ p_y s) → 0 as well.
        expect(grad.data).toBeAllClose([0, 0, 0], { rtol: 0, atol: 1e-30 });
      });
    }
  }
});

describe('the general soft-target path past the float32 range of exp', () => {
  // Row [M, 0, −1], target 0, ε = 0.1, EL: q_0 = 1 − ε + ε/3 carries the dominant class's bonus
  // log(1 − p_0) → −M + log(1 + e^−1); the others' bonus log(1 − p_j) ≈ −p_j vanishes; their CE terms are
  // (ε/3)(M + log(1 + e^−1 + e^−M)) and (ε/3)(M + 1 + …) → (ε/3)(2M + 1) (independent of the code).
  const eps = 0.1;
  const q0 = 1 - eps + eps / 3;
  for (const dtype of ['float32', 'float64'] as const) {
    for (const margin of [100, 200, 1000]) {
      it(`EL with label smoothing is exact at margin ${margin} (${dtype})`, () => {
        const logits = arrayTensor([margin, 0, -1], [1, 3], dtype);
        const targets = arrayTensor([0], [1], 'int32');
        const options = { logEnd: 1, labelSmoothing: eps, bonusFloor: 0, reduction: 'sum' } as const;
        const { crossEntropy, bonus } = composed.encouragingLossComponents(logits, targets, options);
        const { grad } = composed.encouragingLossWithGrad(logits, targets, options);
        const tolerance = dtype === 'float32' ? { rtol: 5e-5, atol: 2e-6 } : { rtol: 1e-9, atol: 1e-12 };
        expect(bonus.data).toBeAllClose([q0 * (-margin + Math.log1p(Math.exp(-1)))], tolerance);
        expect(crossEntropy.data).toBeAllClose([(eps / 3) * (2 * margin + 1)], tolerance);
        // ∂ℓ/∂z_j = Q p_j − q_j + ρ (w_j − p_j W), w_k = −q_k β_k p_k → target 2ε/3 − q_0, others
        // −ε/3 + q_0 · share_j with share = [1, e^−1] / (1 + e^−1).
        const share = [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))];
        expect(grad.data).toBeAllClose(
          [(2 * eps) / 3 - q0, -eps / 3 + q0 * share[0]!, -eps / 3 + q0 * share[1]!],
          tolerance,
        );
      });
    }
  }
});

describe('the smoothed integer-target path', () => {
  it('agrees with the general soft-target path given q = ε/K + (1 − ε)·onehot(y), logEnd ≤ 0.9 (float64)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 9 }),
        fc.constantFrom(0.5, 5, 30),
        fc.constantFrom(0.9, 0.75, 0.5, 0.3, 0.1),
        fc.constantFrom(0, 1, 2.5),
        fc.constantFrom(0.05, 0.1, 0.5),
        fc.constantFrom('exact', 'reference'),
        fc.integer(),
        (rows, K, scale, logEnd, bonusWeight, labelSmoothing, numerics, seed) => {
          let state = seed;
          const random = () => {
            state = (Math.imul(state, 1103515245) + 12345) | 0;
            return (state >>> 0) / 2 ** 32;
          };
          const data = Array.from({ length: rows * K }, () => scale * (2 * random() - 1));
          const ys = Array.from({ length: rows }, () => Math.floor(random() * K));
          const q = Array.from({ length: rows * K }, (_, i) => {
            const onTarget = i % K === ys[Math.floor(i / K)] ? 1 - labelSmoothing : 0;
            return labelSmoothing / K + onTarget;
          });
          const options = { logEnd, bonusWeight, labelSmoothing, numerics, reduction: 'sum' as const };
          const dtype: ArrayDType = 'float64';
          const logits = arrayTensor(data, [rows, K], dtype);
          const smoothed = composed.encouragingLossWithGrad(
            logits,
            arrayTensor(ys, [rows], 'int32'),
            options,
          );
          const soft = composed.encouragingLossWithGrad(logits, arrayTensor(q, [rows, K], dtype), {
            ...options,
            labelSmoothing: 0,
            targetType: 'probabilities',
          });
          expect(Array.from(smoothed.loss.data)).toBeAllClose(Array.from(soft.loss.data), {
            rtol: 1e-10,
            atol: 1e-12,
          });
          expect(Array.from(smoothed.grad.data)).toBeAllClose(Array.from(soft.grad.data), {
            rtol: 1e-9,
            atol: 1e-12,
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
