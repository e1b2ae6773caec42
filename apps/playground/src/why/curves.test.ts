import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURVE_NAMES, figureData, probabilityGrid } from './curves.js';

// Closed forms of the paper (no label smoothing), written out independently of the library. With two-class logits
// [logit(p), 0] and target 0: CE = −log p, ∂/∂z_y = p − 1; the bonus ρ·log(1 − p) adds −ρ·p to the gradient; CEL past
// logEnd L uses the tangent ρ·(log(1 − L) − (p − L)/(1 − L)), whose gradient is −ρ·p(1 − p)/(1 − L).
function closedForm(name: string, p: number, rho: number, logEnd: number) {
  const ce = { loss: -Math.log(p), grad: p - 1 };
  if (name === 'CE') return ce;
  const end = name === 'EL' ? 1 : logEnd;
  if (p <= end) return { loss: ce.loss + rho * Math.log1p(-p), grad: ce.grad - rho * p };
  return {
    loss: ce.loss + rho * (Math.log1p(-end) - (p - end) / (1 - end)),
    grad: ce.grad - (rho * p * (1 - p)) / (1 - end),
  };
}

describe('figureData', () => {
  it('matches the closed forms of CE, EL and CEL at every p, ρ and logEnd', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 1 - 1e-4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.05, max: 0.99, noNaN: true }),
        (p, bonusWeight, logEnd) => {
          const data = figureData([p], { bonusWeight, logEnd, labelSmoothing: 0 });
          CURVE_NAMES.forEach((name, c) => {
            const expected = closedForm(name, p, bonusWeight, logEnd);
            expect(data.loss[c][0]).toBeCloseTo(expected.loss, 9);
            expect(data.targetGradient[c][0]).toBeCloseTo(expected.grad, 9);
          });
        },
      ),
    );
  });

  it('EL with ρ = 1 has target gradient −1 up to the floor 1 − p = 1e-5, and CE’s vanishes', () => {
    const data = figureData([0.5, 0.99, 0.9999, 0.999999], {
      bonusWeight: 1,
      logEnd: 0.75,
      labelSmoothing: 0,
    });
    for (const g of data.targetGradient[1].slice(0, 3)) expect(g).toBeCloseTo(-1, 12);
    // Past the official floor the bonus is constant: only cross-entropy's −(1 − p) is left.
    expect(data.targetGradient[1][3]).toBeCloseTo(-1e-6, 12);
    expect(data.targetGradient[0][3]).toBeCloseTo(0, 5);
  });

  it('is finite everywhere on the plotted grid, also with label smoothing', () => {
    const data = figureData(probabilityGrid(240), { bonusWeight: 1, logEnd: 0.3, labelSmoothing: 0.2 });
    for (const row of [...data.loss, ...data.targetGradient])
      for (const v of row) expect(Number.isFinite(v)).toBe(true);
  });
});

describe('probabilityGrid', () => {
  it('is increasing and stays inside (0, 1)', () => {
    const grid = probabilityGrid(240);
    expect(grid[0]).toBeGreaterThan(0);
    expect(grid.at(-1)).toBeLessThan(1);
    for (let i = 1; i < grid.length; i++) expect(grid[i]).toBeGreaterThan(grid[i - 1]);
  });
});
