import { describe, expect, it } from 'vitest';
import { CURVES, figurePoints, figureSvg, formatTable } from './figure.js';

describe('the Fig. 3 showcase', () => {
  const points = figurePoints([0.1, 0.5, 0.9, 0.999]);

  it('shows CE = −log p with gradient p − 1, and EL = log((1 − p)/p) with gradient −1', () => {
    for (const { p, values } of points) {
      const [ce, el] = values;
      expect(ce.loss).toBeCloseTo(-Math.log(p), 12);
      expect(ce.targetGradient).toBeCloseTo(p - 1, 12);
      expect(el.loss).toBeCloseTo(Math.log((1 - p) / p), 10);
      expect(el.targetGradient).toBeCloseTo(-1, 12);
    }
  });

  it('CEL follows EL up to logEnd and the tangent after it', () => {
    const cel05 = CURVES.findIndex((c) => c.name === 'CEL 0.5');
    const at = (p: number) => points.find((pt) => pt.p === p)!.values[cel05];
    expect(at(0.1).loss).toBeCloseTo(Math.log(0.9 / 0.1), 10);
    // p = 0.9 > 0.5: −log p + log(0.5) + (p − 0.5)/(0.5 − 1); gradient (p − 1)(1 + p/(1 − 0.5)).
    expect(at(0.9).loss).toBeCloseTo(-Math.log(0.9) + Math.log(0.5) - 0.8, 10);
    expect(at(0.9).targetGradient).toBeCloseTo(-0.1 * (1 + 1.8), 10);
  });

  it('prints every curve and draws one polyline per curve', () => {
    const table = formatTable(points);
    for (const c of CURVES) expect(table).toContain(`${c.name} loss`);
    expect(figureSvg(points).match(/<polyline/g)).toHaveLength(2 * CURVES.length);
  });
});
