import { lossOptions } from '@encouraging-loss/translate';
import { expect, test } from 'vitest';
import { compareArm, parseLosses } from './arms.js';

test("defaults are the paper's MT setting: CE plain, ε = 0.1 elsewhere (bonus too), CEL logEnd 0.5, floor 1e-5", () => {
  const arms = parseLosses('ce,ls,el,cel');
  expect(arms.map((a) => [a.name, a.label])).toEqual([
    ['ce', 'CE'],
    ['ls', 'CE, ε=0.1'],
    ['el', 'EL, ε=0.1'],
    ['cel', 'CEL logEnd 0.5, ε=0.1'],
  ]);
  expect(arms.map((a) => a.options)).toEqual([
    { bonusWeight: 0, logEnd: 1, labelSmoothing: 0, bonusFloor: null },
    { bonusWeight: 0, logEnd: 1, labelSmoothing: 0.1, bonusFloor: null },
    { bonusWeight: 1, logEnd: 1, labelSmoothing: 0.1, bonusFloor: 1e-5 },
    { bonusWeight: 1, logEnd: 0.5, labelSmoothing: 0.1, bonusFloor: 1e-5 },
  ]);
  expect(arms.map((a) => a.loss)).toEqual([
    { kind: 'ce', labelSmoothing: 0 },
    { kind: 'ce', labelSmoothing: 0.1 },
    { kind: 'el', labelSmoothing: 0.1, bonusWeight: 1 },
    { kind: 'cel', labelSmoothing: 0.1, bonusWeight: 1, logEnd: 0.5 },
  ]);
});

test('what the trainer trains with is what the arm reports', () => {
  for (const settings of [{}, { labelSmoothing: 0.2, logEnd: 0.75, bonusWeight: 0.5 }]) {
    for (const arm of parseLosses('ce,ls,el,cel', settings)) {
      const trained = lossOptions(arm.loss);
      expect(
        { bonusWeight: trained.bonusWeight, logEnd: trained.logEnd, labelSmoothing: trained.labelSmoothing },
        arm.name,
      ).toEqual({
        bonusWeight: arm.options.bonusWeight,
        logEnd: arm.options.logEnd,
        labelSmoothing: arm.options.labelSmoothing,
      });
    }
  }
});

test('flags change the smoothed arms only; CE stays plain', () => {
  const settings = { labelSmoothing: 0.2, logEnd: 0.75, bonusWeight: 0.5 };
  expect(compareArm('ce', settings).options.labelSmoothing).toBe(0);
  expect(compareArm('ls', settings).label).toBe('CE, ε=0.2');
  expect(compareArm('cel', settings).label).toBe('CEL logEnd 0.75, ε=0.2, ρ=0.5');
  expect(compareArm('el', { labelSmoothing: 0 }).label).toBe('EL');
});

test('--losses: known, distinct names; the order given is kept (the first is the baseline)', () => {
  expect(parseLosses('cel, ce').map((a) => a.name)).toEqual(['cel', 'ce']);
  for (const bad of ['ce,focal', 'ce,ce', 'ce,,el', '']) {
    expect(() => parseLosses(bad), bad).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('--losses') }),
    );
  }
});
