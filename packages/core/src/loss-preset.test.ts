import { describe, expect, it } from 'vitest';
import { encouragingLossComponents } from './encouraging-loss.js';
import { lossPreset } from './loss-preset.js';

const logits = { data: new Float64Array([2, 0.5, -1, 0.1, 3, 0.2]), shape: [2, 3] };
const targets = { data: new Int32Array([0, 1]), shape: [2] };

describe('lossPreset', () => {
  it('CE and LS-CE have no bonus: the loss is the (smoothed) cross-entropy, computed here from the definition', () => {
    const rows = [Array.from(logits.data.slice(0, 3)), Array.from(logits.data.slice(3))];
    const smoothedCe = (eps: number) =>
      rows.reduce((sum, row, r) => {
        const lse = Math.log(row.reduce((a, z) => a + Math.exp(z), 0));
        return (
          sum - row.reduce((a, z, k) => a + (eps / 3 + (k === targets.data[r] ? 1 - eps : 0)) * (z - lse), 0)
        );
      }, 0) / 2;
    expect(encouragingLossComponents(logits, targets, lossPreset('ce')).loss.data[0]).toBeCloseTo(
      smoothedCe(0),
      14,
    );
    expect(encouragingLossComponents(logits, targets, lossPreset('ls')).loss.data[0]).toBeCloseTo(
      smoothedCe(0.1),
      14,
    );
    expect(lossPreset('ls', { labelSmoothing: 0.2 }).labelSmoothing).toBe(0.2);
  });

  it('EL is logEnd 1 and CEL keeps logEnd; ρ, ε and the floor pass through', () => {
    expect(lossPreset('el', { logEnd: 0.5, bonusWeight: 2 })).toEqual({
      bonusWeight: 2,
      logEnd: 1,
      labelSmoothing: 0,
    });
    expect(lossPreset('cel')).toEqual({ bonusWeight: 1, logEnd: 0.75, labelSmoothing: 0 });
    expect(lossPreset('cel', { logEnd: 0.5, labelSmoothing: 0.1, bonusFloor: 0 })).toEqual({
      bonusWeight: 1,
      logEnd: 0.5,
      labelSmoothing: 0.1,
      bonusFloor: 0,
    });
  });

  it('an unknown name is INVALID_OPTION naming it', () => {
    expect(() => lossPreset('focal' as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => lossPreset('focal' as never)).toThrow(/"focal"/);
  });
});
