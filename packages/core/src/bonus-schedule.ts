import { EncouragingLossError } from './errors.js';

/** Shape of the ramp from `initial` to `final` between `deferSteps` and `totalSteps`. */
export type BonusScheduleKind = 'constant' | 'linear' | 'cosine' | 'exp';

/** Configuration of {@link bonusSchedule}. Steps may be optimizer steps or epochs; the caller decides. */
export interface BonusScheduleConfig {
  /** `'constant'` (jump to `final` at `deferSteps`), `'linear'`, `'cosine'` (half cosine) or `'exp'`. */
  kind: BonusScheduleKind;
  /** Steps before the bonus starts (ρ = 0 while step < deferSteps; the official `defer_start`). Default 0. */
  deferSteps?: number;
  /** Step at which the ramp reaches `final`; required for every kind but `'constant'`. */
  totalSteps?: number;
  /** ρ at `deferSteps` for the ramps. Default 0. */
  initial?: number;
  /** ρ from `totalSteps` on (and from `deferSteps` for `'constant'`). Default 1. */
  final?: number;
  /** `'exp'` only: ρ = final + (initial − final)·e^(−rate·t), t ∈ [0, 1] the ramp fraction. Default 5. */
  rate?: number;
}

function check(name: string, value: number, ok: boolean, expected: string): number {
  if (!Number.isFinite(value) || !ok) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `bonusSchedule: ${name} must be ${expected}, got ${value}.`,
    );
  }
  return value;
}

/**
 * A schedule for the bonus weight ρ: deferred start, then a constant, linear, cosine or exponential ramp.
 *
 * ρ(step) = 0 for step < deferSteps; for the ramps, with t = (step − deferSteps)/(totalSteps − deferSteps)
 * clamped to [0, 1]: linear initial + (final − initial)·t; cosine initial + (final − initial)·(1 − cos πt)/2;
 * exp final + (initial − final)·e^(−rate·t) (reaching `final` exactly at t = 1).
 *
 * @returns a pure function of the step (an integer ≥ 0) giving ρ.
 *
 * @example
 * ```ts
 * const rho = bonusSchedule({ kind: 'linear', deferSteps: 1000, totalSteps: 5000 });
 * rho(500); // 0
 * rho(3000); // 0.5
 * ```
 */
export function bonusSchedule(config: BonusScheduleConfig): (step: number) => number {
  const kinds: BonusScheduleKind[] = ['constant', 'linear', 'cosine', 'exp'];
  if (!config || !kinds.includes(config.kind)) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `bonusSchedule: kind must be one of ${kinds.join(', ')}, got ${JSON.stringify(config?.kind)}.`,
    );
  }
  const deferSteps = check('deferSteps', config.deferSteps ?? 0, (config.deferSteps ?? 0) >= 0, '>= 0');
  const initial = check('initial', config.initial ?? 0, (config.initial ?? 0) >= 0, '>= 0');
  const final = check('final', config.final ?? 1, (config.final ?? 1) >= 0, '>= 0');
  const rate = check('rate', config.rate ?? 5, (config.rate ?? 5) > 0, '> 0');
  let totalSteps = deferSteps;
  if (config.kind !== 'constant') {
    totalSteps = check(
      'totalSteps',
      config.totalSteps ?? Number.NaN,
      (config.totalSteps ?? 0) > deferSteps,
      `a number > deferSteps (${deferSteps})`,
    );
  }
  const span = totalSteps - deferSteps;
  return (step: number) => {
    check('step', step, step >= 0, '>= 0');
    if (step < deferSteps) return 0;
    if (config.kind === 'constant') return final;
    const t = Math.min(1, (step - deferSteps) / span);
    switch (config.kind) {
      case 'linear':
        return initial + (final - initial) * t;
      case 'cosine':
        return initial + ((final - initial) * (1 - Math.cos(Math.PI * t))) / 2;
      default: {
        // Normalised so that t = 1 gives `final` exactly.
        const decay = (Math.exp(-rate * t) - Math.exp(-rate)) / (1 - Math.exp(-rate));
        return final + (initial - final) * decay;
      }
    }
  };
}
