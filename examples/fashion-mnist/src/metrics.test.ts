import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, meanStd, pairedDifference } from './metrics.js';
import { mulberry32, shuffle } from './random.js';

describe('evaluate', () => {
  it('computes accuracy, per-class accuracy, NLL and a 15-bin ECE worked out by hand', () => {
    // Four examples, K = 2. Confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.55 (right).
    const probabilities = [0.9, 0.1, 0.1, 0.9, 0.4, 0.6, 0.55, 0.45];
    const labels = [0, 0, 1, 0];
    const r = evaluate(probabilities, labels, 2, { bins: 15 });
    expect(r.accuracy).toBe(0.75);
    expect(r.perClassAccuracy).toEqual([2 / 3, 1]);
    // Bins of width 1/15: 0.9 → (0.8667, 0.9333]; 0.6 → (0.5333, 0.6]; 0.55 → (0.5333, 0.6].
    // ECE = 2/4·|1/2 − 0.9| + 2/4·|1 − 0.575| = 0.2 + 0.2125.
    expect(r.ece).toBeCloseTo(0.4125, 12);
    expect(r.nll).toBeCloseTo(-(Math.log(0.9) + Math.log(0.1) + Math.log(0.6) + Math.log(0.55)) / 4, 12);
  });

  it('puts a confidence of exactly b/15 in bin b (upper edge inclusive)', () => {
    // 1/15 + 14/15 split: confidence 14/15 lands in the last-but-one bin with accuracy 1.
    const r = evaluate([14 / 15, 1 / 15], [0], 2);
    expect(r.ece).toBeCloseTo(1 / 15, 12);
  });

  it('has ECE 0 for a perfectly confident, always right model and 1 for a confident, always wrong one', () => {
    expect(evaluate([1, 0, 0, 1], [0, 1], 2).ece).toBe(0);
    expect(evaluate([1, 0, 0, 1], [1, 0], 2).ece).toBe(1);
  });
});

describe('meanStd and pairedDifference', () => {
  it('uses the sample standard deviation', () => {
    expect(meanStd([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(5 / 3) });
    expect(meanStd([7])).toEqual({ mean: 7, std: 0 });
  });

  it('pairs by position and counts the signs', () => {
    const d = pairedDifference([0.9, 0.8, 0.7], [0.8, 0.8, 0.75]);
    expect(d.mean).toBeCloseTo(0.05 / 3, 12);
    expect([d.positive, d.negative, d.count]).toEqual([1, 1, 3]);
    expect(d.min).toBeCloseTo(-0.05, 12);
    expect(d.max).toBeCloseTo(0.1, 12);
    expect(() => pairedDifference([1], [1, 2])).toThrow(RangeError);
  });
});

describe('shuffle', () => {
  it('is a permutation, and the same one for the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        const a = shuffle(
          Int32Array.from({ length: n }, (_, i) => i),
          mulberry32(seed),
        );
        const b = shuffle(
          Int32Array.from({ length: n }, (_, i) => i),
          mulberry32(seed),
        );
        expect(Array.from(a)).toEqual(Array.from(b));
        expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
  });
});
