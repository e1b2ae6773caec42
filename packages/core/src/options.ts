import { EncouragingLossError } from './errors.js';

/** How the per-example losses are combined. */
export type Reduction = 'mean' | 'sum' | 'none';

/**
 * How log(1 − p) is evaluated, up to the floor {@link EncouragingLossOptions.bonusFloor} (which is part of the
 * loss's definition and applies in both modes).
 *
 * - `'exact'`: log(1 − p) to full precision at any margin (log-sum-exp over the non-target logits where p is
 *   large, log1p(−p) elsewhere).
 * - `'reference'`: the name of the official code's clamp, log(max(1 − p, 1e-5)), before the floor became an
 *   option of its own. Since `bonusFloor` (default 1e-5) applies in every mode, `'reference'` computes the same
 *   values as `'exact'`; it is kept so that code written against 0.x keeps working.
 */
export type Numerics = 'exact' | 'reference';

/** What the first argument holds along its last axis. */
export type InputKind = 'logits' | 'logProbs' | 'probabilities';

/** Options of the softmax Encouraging Loss. Every field is optional; defaults live in {@link resolveOptions}. */
export interface EncouragingLossOptions {
  /**
   * Where the conservative tangent starts, in (0, 1]. For p > logEnd the bonus log(1 − p) is replaced by its
   * tangent line at logEnd, which bounds the loss. `1` is plain EL. Default `0.75` (the official class default).
   */
  logEnd?: number;
  /** Weight ρ ≥ 0 of the bonus. `0` gives plain cross-entropy. Default `1`. */
  bonusWeight?: number;
  /**
   * The floor on 1 − p inside the bonus, in [0, 0.1): b(p) = log(max(1 − p, bonusFloor)) on the log part, with a
   * zero derivative where the floor is active (p > 1 − bonusFloor). Default `1e-5`, the official code's
   * `torch.clamp(1 - p, min=1e-5)` (`cl_eps`): it bounds plain EL below by log 1e-5 ≈ −11.51 per example, and
   * it is the EL the paper's results come from. `0` gives the pure formula, whose plain-EL loss is unbounded
   * below (−margin): logits then grow without limit in training (docs/encouraging-loss.md, "The bonus floor").
   * With CEL (logEnd ≤ 1 − bonusFloor) the tangent starts before the floor and the floor never acts.
   */
  bonusFloor?: number;
  /** Uniform label smoothing ε in [0, 1); smooths the bonus too. Default `0`. */
  labelSmoothing?: number;
  /** Integer targets equal to this value contribute nothing. Default `-100` (PyTorch). */
  ignoreIndex?: number;
  /** `'mean'` (Σℓ / Σ w[y] over kept examples), `'sum'` or `'none'`. Default `'mean'`. */
  reduction?: Reduction;
  /** Per-class weights w, length K, finite and ≥ 0. The loss of an example is scaled by w[y]. */
  classWeights?: ArrayLike<number>;
  /** `'exact'` (default) or the official `'reference'` clamp. */
  numerics?: Numerics;
  /** What the input holds: `'logits'` (default), `'logProbs'` (normalised) or `'probabilities'`. */
  input?: InputKind;
  /**
   * Check every logit is finite before computing (typed-array backend). Default `true`. Backends whose values
   * live on a device may ignore it (reading them back costs a sync).
   */
  checkFinite?: boolean;
}

/** {@link EncouragingLossOptions} with every default applied and every value validated. */
export interface ResolvedEncouragingLossOptions {
  readonly logEnd: number;
  readonly bonusWeight: number;
  readonly bonusFloor: number;
  readonly labelSmoothing: number;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly classWeights: Float64Array | undefined;
  readonly numerics: Numerics;
  readonly input: InputKind;
  readonly checkFinite: boolean;
}

/** The defaults, in one place. */
export const DEFAULT_OPTIONS = {
  logEnd: 0.75,
  bonusWeight: 1,
  bonusFloor: 1e-5,
  labelSmoothing: 0,
  ignoreIndex: -100,
  reduction: 'mean',
  numerics: 'exact',
  input: 'logits',
  checkFinite: true,
} as const satisfies Omit<ResolvedEncouragingLossOptions, 'classWeights'>;

/** The official code's floor on 1 − p (`cl_eps`), the default {@link EncouragingLossOptions.bonusFloor}. */
export const REFERENCE_CLAMP = DEFAULT_OPTIONS.bonusFloor;

/** Every option of {@link EncouragingLossOptions}, for the unknown-key check. */
const SOFTMAX_KEYS = [
  'logEnd',
  'bonusWeight',
  'bonusFloor',
  'labelSmoothing',
  'ignoreIndex',
  'reduction',
  'classWeights',
  'numerics',
  'input',
  'checkFinite',
] as const satisfies readonly (keyof EncouragingLossOptions)[];

/** Every option of {@link SigmoidEncouragingLossOptions}. */
const SIGMOID_KEYS = [
  'logEnd',
  'bonusWeight',
  'bonusFloor',
  'positiveWeight',
  'negativeWeight',
  'ignoreIndex',
  'reduction',
  'numerics',
  'checkFinite',
] as const satisfies readonly (keyof SigmoidEncouragingLossOptions)[];

/**
 * Keys that core's own APIs add to the loss options in the same object (`targetType` of the generic functions,
 * `out` of `encouragingLossWithGrad`): accepted here, read by the layer that defines them. Adapters strip their
 * own keys (tfjs `checkValues`, `fromLogits`) before calling core.
 */
const API_KEYS = ['targetType', 'out'];

/** Levenshtein distance, case-insensitive (option names are short). */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[y.length];
}

/**
 * Throws `INVALID_OPTION` for a key that is no option (a misspelling such as `logend` would otherwise be ignored
 * silently by JavaScript callers), naming the nearest valid one.
 */
function checkKeys(options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key) || API_KEYS.includes(key)) continue;
    const nearest = [...known].sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
    fail(
      `Unknown option ${JSON.stringify(key)}${editDistance(key, nearest) <= 3 ? `: did you mean ${nearest}?` : '.'} Valid options: ${known.join(', ')}.`,
    );
  }
}

function fail(message: string): never {
  throw new EncouragingLossError('INVALID_OPTION', message);
}

function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(`Option ${name} must be a finite number, got ${String(value)}.`);
  }
  return value;
}

function oneOf<V extends string>(name: string, value: unknown, allowed: readonly V[]): V {
  if (!allowed.includes(value as V)) {
    fail(
      `Option ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}.`,
    );
  }
  return value as V;
}

/**
 * Applies the defaults and validates every option, throwing `EncouragingLossError` (`INVALID_OPTION`) that
 * names the option and the bad value. `classCount`, when known, checks `classWeights` has length K.
 */
export function resolveOptions(
  options: EncouragingLossOptions = {},
  classCount?: number,
): ResolvedEncouragingLossOptions {
  if (options === null || typeof options !== 'object')
    fail(`Options must be an object, got ${String(options)}.`);
  checkKeys(options, SOFTMAX_KEYS);
  const logEnd = finiteNumber('logEnd', options.logEnd ?? DEFAULT_OPTIONS.logEnd);
  if (!(logEnd > 0 && logEnd <= 1)) fail(`Option logEnd must be in (0, 1], got ${logEnd}.`);
  const bonusWeight = finiteNumber('bonusWeight', options.bonusWeight ?? DEFAULT_OPTIONS.bonusWeight);
  if (bonusWeight < 0) fail(`Option bonusWeight must be >= 0, got ${bonusWeight}.`);
  const bonusFloor = finiteNumber('bonusFloor', options.bonusFloor ?? DEFAULT_OPTIONS.bonusFloor);
  if (!(bonusFloor >= 0 && bonusFloor < 0.1)) {
    fail(
      `Option bonusFloor must be in [0, 0.1) (the official value is 1e-5; 0 = no floor), got ${bonusFloor}.`,
    );
  }
  const labelSmoothing = finiteNumber(
    'labelSmoothing',
    options.labelSmoothing ?? DEFAULT_OPTIONS.labelSmoothing,
  );
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
    fail(`Option labelSmoothing must be in [0, 1), got ${labelSmoothing}.`);
  }
  const ignoreIndex = finiteNumber('ignoreIndex', options.ignoreIndex ?? DEFAULT_OPTIONS.ignoreIndex);
  if (!Number.isInteger(ignoreIndex)) fail(`Option ignoreIndex must be an integer, got ${ignoreIndex}.`);
  const reduction = oneOf('reduction', options.reduction ?? DEFAULT_OPTIONS.reduction, [
    'mean',
    'sum',
    'none',
  ]);
  const numerics = oneOf('numerics', options.numerics ?? DEFAULT_OPTIONS.numerics, ['exact', 'reference']);
  const input = oneOf('input', options.input ?? DEFAULT_OPTIONS.input, [
    'logits',
    'logProbs',
    'probabilities',
  ]);
  const checkFinite = options.checkFinite ?? DEFAULT_OPTIONS.checkFinite;
  if (typeof checkFinite !== 'boolean')
    fail(`Option checkFinite must be a boolean, got ${String(checkFinite)}.`);
  let classWeights: Float64Array | undefined;
  if (options.classWeights !== undefined) {
    const raw = options.classWeights;
    if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number') {
      fail(`Option classWeights must be an array of numbers, got ${String(raw)}.`);
    }
    classWeights = Float64Array.from(raw as ArrayLike<number>);
    classWeights.forEach((w, k) => {
      if (!Number.isFinite(w) || w < 0) fail(`Option classWeights[${k}] must be finite and >= 0, got ${w}.`);
    });
    if (classCount !== undefined && classWeights.length !== classCount) {
      fail(
        `Option classWeights has length ${classWeights.length}, expected K = ${classCount} (one per class).`,
      );
    }
  }
  return {
    logEnd,
    bonusWeight,
    bonusFloor,
    labelSmoothing,
    ignoreIndex,
    reduction,
    classWeights,
    numerics,
    input,
    checkFinite,
  };
}

/** Options of {@link sigmoidEncouragingLoss}: the multi-label variant. */
export interface SigmoidEncouragingLossOptions {
  /** Where the tangent starts, in (0, 1]. Default `0.75`. */
  logEnd?: number;
  /** Weight ρ ≥ 0 of the bonus. Default `1`. */
  bonusWeight?: number;
  /** Floor on 1 − p_t inside the bonus, in [0, 0.1): log(max(1 − p_t, bonusFloor)). Default `1e-5` (official). */
  bonusFloor?: number;
  /** Extra weight ≥ 0 of the bonus on positive labels (t = 1). Default `1`. */
  positiveWeight?: number;
  /** Extra weight ≥ 0 of the bonus on negative labels (t = 0). Default `1`. */
  negativeWeight?: number;
  /** Elements whose target equals this value contribute nothing. Default `-100`. */
  ignoreIndex?: number;
  /** `'mean'` over kept elements, `'sum'` or `'none'`. Default `'mean'`. */
  reduction?: Reduction;
  /** `'exact'` (default) or the official `'reference'` clamp. */
  numerics?: Numerics;
  /** Check every logit is finite (typed-array backend). Default `true`. */
  checkFinite?: boolean;
}

export interface ResolvedSigmoidEncouragingLossOptions {
  readonly logEnd: number;
  readonly bonusWeight: number;
  readonly bonusFloor: number;
  readonly positiveWeight: number;
  readonly negativeWeight: number;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly numerics: Numerics;
  readonly checkFinite: boolean;
}

/** Applies defaults to and validates {@link SigmoidEncouragingLossOptions}. */
export function resolveSigmoidOptions(
  options: SigmoidEncouragingLossOptions = {},
): ResolvedSigmoidEncouragingLossOptions {
  if (options === null || typeof options !== 'object')
    fail(`Options must be an object, got ${String(options)}.`);
  checkKeys(options, SIGMOID_KEYS);
  const base = resolveOptions({
    logEnd: options.logEnd,
    bonusWeight: options.bonusWeight,
    bonusFloor: options.bonusFloor,
    ignoreIndex: options.ignoreIndex,
    reduction: options.reduction,
    numerics: options.numerics,
    checkFinite: options.checkFinite,
  });
  const positiveWeight = finiteNumber('positiveWeight', options.positiveWeight ?? 1);
  if (positiveWeight < 0) fail(`Option positiveWeight must be >= 0, got ${positiveWeight}.`);
  const negativeWeight = finiteNumber('negativeWeight', options.negativeWeight ?? 1);
  if (negativeWeight < 0) fail(`Option negativeWeight must be >= 0, got ${negativeWeight}.`);
  return {
    logEnd: base.logEnd,
    bonusWeight: base.bonusWeight,
    bonusFloor: base.bonusFloor,
    positiveWeight,
    negativeWeight,
    ignoreIndex: base.ignoreIndex,
    reduction: base.reduction,
    numerics: base.numerics,
    checkFinite: base.checkFinite,
  };
}
