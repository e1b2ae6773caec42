import { describe, expect, it } from 'vitest';
import {
  referenceEncouragingLoss,
  referenceFiniteDifferences,
  referenceSigmoidEncouragingLoss,
} from './reference.js';

const row = (values: number[]) => ({ data: Float64Array.from(values), shape: [values.length / 3, 3] });

describe('the high-precision reference', () => {
  it('matches closed forms: two-class EL without a floor is −margin; CE of uniform logits is log K', () => {
    for (const margin of [0.5, 10, 80, 300]) {
      const out = referenceEncouragingLoss(
        { data: [margin, 0], shape: [1, 2] },
        { data: [0], shape: [1] },
        'indices',
        { logEnd: 1, bonusFloor: 0 },
      );
      expect(out.loss[0]).toBeCloseTo(-margin, 12);
      expect(out.grad[0]).toBeCloseTo(-1, 14);
    }
    const uniform = referenceEncouragingLoss(row([0, 0, 0]), { data: [1], shape: [1] }, 'indices', {
      bonusWeight: 0,
    });
    expect(uniform.loss[0]).toBeCloseTo(Math.log(3), 15);
  });

  it('puts the tangent at logEnd: b(p) = log(1 − e) + (p − e)/(e − 1) for p > e', () => {
    // p_y = 0.9 with logits [log 18, 0, 0] (p = 18/20); logEnd 0.5.
    const out = referenceEncouragingLoss(row([Math.log(18), 0, 0]), { data: [0], shape: [1] }, 'indices', {
      logEnd: 0.5,
    });
    const p = 0.9;
    expect(out.loss[0]).toBeCloseTo(-Math.log(p) + Math.log(0.5) + (p - 0.5) / (0.5 - 1), 14);
  });

  it.each([
    [{ logEnd: 1 }, 1e-5],
    [{ logEnd: 1, numerics: 'reference' as const }, 1e-5],
    [{ logEnd: 1, bonusFloor: 1e-3 }, 1e-3],
  ])('applies the floor log(max(1 − p, floor)) by default: %j', (options, floor) => {
    const out = referenceEncouragingLoss(row([30, 0, 0]), { data: [0], shape: [1] }, 'indices', options);
    const logP = -Math.log1p(2 * Math.exp(-30));
    expect(out.loss[0]).toBeCloseTo(-logP + Math.log(floor), 12);
    // Zero derivative of the floored bonus: the gradient is the cross-entropy's.
    expect(out.grad[1]).toBeCloseTo(Math.exp(-30 + logP), 20);
  });

  it.each([
    [{ logEnd: 1 }],
    [{ logEnd: 0.75 }],
    [{ logEnd: 0.5, labelSmoothing: 0.1 }],
    [{ logEnd: 0.3, bonusWeight: 2.5, classWeights: [1, 0.5, 2] }],
    [{ logEnd: 1, labelSmoothing: 0.2, ignoreIndex: 2 }],
  ])('its closed-form gradient equals decimal finite differences for %j', (options) => {
    const logits = row([2.5, -1, 0.3, 0.1, 4, -2, -3, 0.2, 9, 1, 1, 1]);
    const targets = { data: [0, 1, 2, 1], shape: [4] };
    const reference = referenceEncouragingLoss(logits, targets, 'indices', { ...options, reduction: 'sum' });
    const fd = referenceFiniteDifferences(logits, targets, 'indices', { ...options, reduction: 'sum' });
    reference.grad.forEach((g, i) => {
      expect(Math.abs(g - fd[i])).toBeLessThan(1e-14);
    });
  });

  it('its soft-target gradient equals finite differences too', () => {
    const logits = row([2.5, -1, 0.3, 0.1, 4, -2]);
    const targets = { data: [0.7, 0.2, 0.1, 0, 0.5, 0.5], shape: [2, 3] };
    const reference = referenceEncouragingLoss(logits, targets, 'probabilities', {
      logEnd: 0.6,
      reduction: 'sum',
    });
    const fd = referenceFiniteDifferences(logits, targets, 'probabilities', {
      logEnd: 0.6,
      reduction: 'sum',
    });
    reference.grad.forEach((g, i) => {
      expect(Math.abs(g - fd[i])).toBeLessThan(1e-14);
    });
  });

  it('sigmoid: log(1 − σ(x)) = −softplus(x) and the derivative of −log σ(x) is −(1 − σ(x))', () => {
    const x = 3;
    const out = referenceSigmoidEncouragingLoss(
      { data: [x, x], shape: [2] },
      { data: [1, 0] },
      { logEnd: 1, reduction: 'none' },
    );
    const softplus = (v: number) => Math.log1p(Math.exp(v));
    // positive: −log σ(x) + log(1 − σ(x)) = −x; negative: −log σ(−x) + log σ(x) = x
    expect(out.loss[0]).toBeCloseTo(softplus(-x) - softplus(x), 14);
    expect(out.loss[1]).toBeCloseTo(softplus(x) - softplus(-x), 14);
    expect(out.grad[0]).toBeCloseTo(-1, 14);
    expect(out.grad[1]).toBeCloseTo(1, 14);
  });
});
