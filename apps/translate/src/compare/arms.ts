import { DEFAULT_OPTIONS, type LossPresetName, lossPreset } from '@encouraging-loss/core';
import { invalidOption, type LossSettings } from '@encouraging-loss/translate';

/** One arm of a comparison: a named loss, fine-tuned once per seed. */
export interface CompareArm {
  /** `ce`, `ls`, `el` or `cel`: the run folders' and the JSON's name. */
  name: LossPresetName;
  /** How the report names it: `CE`, `CE, ε=0.1`, `EL, ε=0.1`, `CEL logEnd 0.5, ε=0.1`. */
  label: string;
  /** What the trainer is given. */
  loss: LossSettings;
  /** The core options it resolves to (`lossPreset`), with the bonus floor the trainer applies. */
  options: { bonusWeight: number; logEnd: number; labelSmoothing: number; bonusFloor: number | null };
}

/** The settings shared by the arms. Defaults: the paper's MT setting. */
export interface ArmSettings {
  /** ε of `ls`, `el` and `cel` (on the bonus too); `ce` is plain. Default `0.1`. */
  labelSmoothing?: number;
  /** CEL's tangent point. Default `0.5`. */
  logEnd?: number;
  /** ρ of `el` and `cel`. Default `1`. */
  bonusWeight?: number;
}

const NAMES: readonly LossPresetName[] = ['ce', 'ls', 'el', 'cel'];

/**
 * The arm of a loss name: `ce` plain cross-entropy; `ls` CE with label smoothing ε; `el` EL (logEnd 1) and `cel`
 * CEL (logEnd e), both with ε on CE and bonus alike and core's bonus floor (1e-5, the official `cl_eps`).
 */
export function compareArm(name: string, settings: ArmSettings = {}): CompareArm {
  if (!NAMES.includes(name as LossPresetName)) {
    invalidOption(`--losses: unknown loss ${JSON.stringify(name)}; expected some of ${NAMES.join(', ')}.`);
  }
  const preset = name as LossPresetName;
  const epsilon = settings.labelSmoothing ?? 0.1;
  const logEnd = settings.logEnd ?? 0.5;
  const bonusWeight = settings.bonusWeight ?? 1;
  const resolved = lossPreset(preset, {
    labelSmoothing: preset === 'ce' ? 0 : epsilon,
    logEnd,
    bonusWeight,
  });
  const options = {
    bonusWeight: resolved.bonusWeight ?? 1,
    logEnd: resolved.logEnd ?? 1,
    labelSmoothing: resolved.labelSmoothing ?? 0,
    // Only EL and CEL have a bonus to floor; the trainer leaves `bonusFloor` at core's default.
    bonusFloor: preset === 'el' || preset === 'cel' ? DEFAULT_OPTIONS.bonusFloor : null,
  };
  const smoothing = options.labelSmoothing > 0 ? `, ε=${options.labelSmoothing}` : '';
  const rho = options.bonusWeight !== 1 && options.bonusWeight > 0 ? `, ρ=${options.bonusWeight}` : '';
  const label =
    preset === 'cel'
      ? `CEL logEnd ${options.logEnd}${smoothing}${rho}`
      : `${preset === 'el' ? 'EL' : 'CE'}${smoothing}${rho}`;
  const kind = preset === 'ls' ? 'ce' : preset;
  const loss: LossSettings = {
    kind,
    labelSmoothing: options.labelSmoothing,
    ...(kind === 'ce' ? {} : { bonusWeight: options.bonusWeight }),
    ...(kind === 'cel' ? { logEnd: options.logEnd } : {}),
  };
  return { name: preset, label, loss, options };
}

/** Parses `--losses ce,ls,el,cel`: distinct names of {@link compareArm}, in the order given (the first is the baseline). */
export function parseLosses(value: string, settings: ArmSettings = {}): CompareArm[] {
  const names = value.split(',').map((part) => part.trim());
  if (names.some((n) => n === '') || new Set(names).size !== names.length) {
    invalidOption(
      `--losses must be distinct loss names separated by commas (ce, ls, el, cel), got ${value}.`,
    );
  }
  return names.map((name) => compareArm(name, settings));
}

/** Parses `--seeds 1,2,3`: distinct non-negative integers, else `INVALID_OPTION`. */
export function parseSeeds(value: string): number[] {
  const seeds = value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  if (seeds.some((n) => !Number.isInteger(n) || n < 0) || new Set(seeds).size !== seeds.length) {
    invalidOption(`--seeds must be distinct non-negative integers separated by commas, got ${value}.`);
  }
  return seeds;
}
