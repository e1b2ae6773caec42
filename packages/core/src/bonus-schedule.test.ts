import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bonusSchedule } from './bonus-schedule.js';
import { EncouragingLossError } from './errors.js';

describe('bonusSchedule', () => {
  it('defers the bonus, then holds it constant', () => {
    const rho = bonusSchedule({ kind: 'constant', deferSteps: 10, final: 0.5 });
    expect([0, 9, 10, 1000].map(rho)).toEqual([0, 0, 0.5, 0.5]);
  });

  it('ramps linearly and by half cosine between deferSteps and totalSteps', () => {
    const linear = bonusSchedule({ kind: 'linear', deferSteps: 1000, totalSteps: 5000 });
    expect([999, 1000, 2000, 3000, 5000, 9000].map(linear)).toEqual([0, 0, 0.25, 0.5, 1, 1]);
    const cosine = bonusSchedule({ kind: 'cosine', totalSteps: 100, initial: 0.2, final: 1 });
    expect(cosine(0)).toBeCloseTo(0.2, 15);
    expect(cosine(50)).toBeCloseTo(0.6, 15); // (1 − cos π/2)/2 = 1/2
    expect(cosine(100)).toBe(1);
  });

  it('exp starts at initial, reaches final exactly at totalSteps', () => {
    const rho = bonusSchedule({ kind: 'exp', totalSteps: 10, rate: 3 });
    expect(rho(0)).toBe(0);
    expect(rho(10)).toBe(1);
    // t = 1/2: 1 − (e^{−1.5} − e^{−3}) / (1 − e^{−3})
    expect(rho(5)).toBeCloseTo(1 - (Math.exp(-1.5) - Math.exp(-3)) / (1 - Math.exp(-3)), 14);
  });

  it('every ramp is monotone from initial to final', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('linear', 'cosine', 'exp') as fc.Arbitrary<'linear' | 'cosine' | 'exp'>,
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (kind, deferSteps, span, final) => {
          const rho = bonusSchedule({ kind, deferSteps, totalSteps: deferSteps + span, final });
          let previous = 0;
          for (let step = 0; step <= deferSteps + span + 5; step++) {
            const value = rho(step);
            expect(value).toBeGreaterThanOrEqual(previous - 1e-12);
            previous = value;
          }
          expect(previous).toBeCloseTo(final, 12);
        },
      ),
    );
  });

  it('rejects bad configurations with INVALID_OPTION', () => {
    expect(() => bonusSchedule({ kind: 'linear' })).toThrow(EncouragingLossError);
    expect(() => bonusSchedule({ kind: 'step' as never })).toThrow(/kind/);
    expect(() => bonusSchedule({ kind: 'linear', deferSteps: 10, totalSteps: 5 })).toThrow(/totalSteps/);
    expect(() => bonusSchedule({ kind: 'constant', final: -1 })).toThrow(/final/);
    expect(() => bonusSchedule({ kind: 'constant' })(-1)).toThrow(/step/);
  });
});
