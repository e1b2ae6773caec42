import { EncouragingLossError } from './errors.js';
import {
  type EncouragingLossOptions,
  type ResolvedEncouragingLossOptions,
  type ResolvedSigmoidEncouragingLossOptions,
  resolveOptions,
  resolveSigmoidOptions,
  type SigmoidEncouragingLossOptions,
} from './options.js';
import { checkFiniteValues, checkShapes, checkTargetIndices, coordinatesOf } from './validation.js';

/**
 * What an adapter tells core about one of its tensors: shape, dtype name and, when the values can be read on the
 * host, a function that reads them row-major. Core never sees the framework's tensor itself.
 */
export interface InputDescription {
  /** The shape, e.g. `[N, K]` or `[B, T, V]`. */
  readonly shape: readonly number[];
  /** The framework's dtype name (`'float32'`, `'int32'`, `'int64'`, …). */
  readonly dtype: string;
  /**
   * Reads the values, row-major (called only when a value check runs). Omit it when the data cannot be read
   * without a device round trip the caller did not ask for (a GPU tensor): the value checks are then skipped.
   */
  readonly read?: () => ArrayLike<number | bigint>;
}

/** Which dtypes an adapter accepts and which value checks run. */
export interface PrepareInputConfig {
  /** Logits dtypes the adapter computes in. Default `['float32', 'float64']`. */
  floatDTypes?: readonly string[];
  /** Dtypes of class indices `[...B]`. Default `['int32', 'int64']`. */
  indexDTypes?: readonly string[];
  /** Dtypes of soft targets `[...B, K]`. Default: `floatDTypes`. */
  softTargetDTypes?: readonly string[];
  /** Read the targets and check them (indices in `[0, K)` or `ignoreIndex`; soft targets in [0, 1]). Default `true`. */
  checkTargets?: boolean;
  /** Read the logits and check they are finite. Default: the resolved `checkFinite` option. */
  checkFinite?: boolean;
  /** Appended to the message of a wrong class-index dtype (e.g. `use tf.cast(targets, 'int32')`). */
  indexDTypeHint?: string;
}

/** What {@link prepareInput} learned about one call. */
export interface PreparedInput {
  /** K, the size of the logits' last axis. */
  classCount: number;
  /** Class indices `[...B]` (targets of lower rank than the logits) or soft targets `[...B, K]` (same rank). */
  targetType: 'indices' | 'probabilities';
  /** The options, validated and with defaults applied (`classWeights` checked against K). */
  options: ResolvedEncouragingLossOptions;
}

const show = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const list = (dtypes: readonly string[]) =>
  dtypes.length === 1 ? dtypes[0] : `${dtypes.slice(0, -1).join(', ')} or ${dtypes[dtypes.length - 1]}`;

function checkDType(input: InputDescription, allowed: readonly string[], what: string, hint = ''): void {
  if (!allowed.includes(input.dtype)) {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `${what} must be ${list(allowed)}, got ${input.dtype} (shape ${show(input.shape)})${hint ? `; ${hint}` : ''}.`,
    );
  }
}

/**
 * The input preparation every adapter shares: checks a softmax call's dtypes and shapes, resolves its options
 * against K and (over flat host reads) checks target values and finite logits, so bad input is an
 * `EncouragingLossError` naming the value before the framework sees it. An adapter maps its tensors onto
 * {@link InputDescription}s and calls this once per call.
 *
 * Targets of the logits' rank in a soft-target dtype are soft targets `[...B, K]`; anything else is read as class
 * indices `[...B]`.
 *
 * @param logits - `[...B, K]` logits (or log-probabilities / probabilities, per `options.input`).
 * @param targets - class indices `[...B]` or soft targets `[...B, K]`.
 * @throws EncouragingLossError `INVALID_DTYPE`, `INVALID_SHAPE`, `INVALID_OPTION`, `INVALID_TARGET`,
 *   `NON_FINITE`.
 * @example
 * ```ts
 * const { targetType, options: resolved } = prepareInput(
 *   { shape: x.shape, dtype: x.dtype, read: () => x.dataSync() },
 *   { shape: y.shape, dtype: y.dtype, read: () => y.dataSync() },
 *   options,
 *   { floatDTypes: ['float32'], indexDTypes: ['int32'] },
 * );
 * ```
 */
export function prepareInput(
  logits: InputDescription,
  targets: InputDescription,
  options: EncouragingLossOptions = {},
  config: PrepareInputConfig = {},
): PreparedInput {
  const floatDTypes = config.floatDTypes ?? ['float32', 'float64'];
  const indexDTypes = config.indexDTypes ?? ['int32', 'int64'];
  const softTargetDTypes = config.softTargetDTypes ?? floatDTypes;
  checkDType(logits, floatDTypes, 'Logits');
  // Same rank as the logits: soft targets, unless the dtype is an index dtype only (then the shape check below
  // names the rank mismatch, which is the likelier mistake).
  let targetType: PreparedInput['targetType'] = 'indices';
  if (targets.shape.length === logits.shape.length && !indexDTypes.includes(targets.dtype)) {
    checkDType(targets, softTargetDTypes, 'Soft targets (of the logits shape)');
    targetType = 'probabilities';
  } else if (targets.shape.length === logits.shape.length && softTargetDTypes.includes(targets.dtype)) {
    targetType = 'probabilities';
  } else {
    checkDType(targets, indexDTypes, 'Class indices', config.indexDTypeHint);
  }
  const classCount = checkShapes(logits.shape, targets.shape, targetType);
  const resolved = resolveOptions(options, classCount);
  if ((config.checkTargets ?? true) && targets.read) {
    const values = targets.read();
    if (targetType === 'indices') checkTargetIndices(values, targets.shape, classCount, resolved.ignoreIndex);
    else checkFiniteValues(values as ArrayLike<number>, targets.shape, 'soft targets');
  }
  if ((config.checkFinite ?? resolved.checkFinite) && logits.read) {
    checkFiniteValues(logits.read() as ArrayLike<number>, logits.shape, resolved.input);
  }
  return { classCount, targetType, options: resolved };
}

/**
 * {@link prepareInput} for the multi-label (sigmoid) variant: targets of the logits' shape holding 0, 1 or
 * `ignoreIndex`.
 *
 * @throws EncouragingLossError `INVALID_DTYPE`, `INVALID_SHAPE`, `INVALID_OPTION`, `INVALID_TARGET`,
 *   `NON_FINITE`.
 */
export function prepareSigmoidInput(
  logits: InputDescription,
  targets: InputDescription,
  options: SigmoidEncouragingLossOptions = {},
  config: Omit<PrepareInputConfig, 'indexDTypes' | 'indexDTypeHint'> = {},
): { options: ResolvedSigmoidEncouragingLossOptions } {
  const floatDTypes = config.floatDTypes ?? ['float32', 'float64'];
  checkDType(logits, floatDTypes, 'Logits');
  checkDType(targets, config.softTargetDTypes ?? floatDTypes, 'Multi-label targets');
  if (
    targets.shape.length !== logits.shape.length ||
    targets.shape.some((size, axis) => size !== logits.shape[axis])
  ) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Multi-label targets of shape ${show(targets.shape)} must have the logits' shape ${show(logits.shape)}.`,
    );
  }
  const resolved = resolveSigmoidOptions(options);
  if ((config.checkTargets ?? true) && targets.read) {
    const values = targets.read();
    for (let i = 0; i < values.length; i++) {
      const t = Number(values[i]);
      if (t !== 0 && t !== 1 && t !== resolved.ignoreIndex) {
        throw new EncouragingLossError(
          'INVALID_TARGET',
          `Multi-label target ${t} at index ${i} (coordinates [${coordinatesOf(i, targets.shape).join(', ')}]) must be 0, 1 or ignoreIndex (${resolved.ignoreIndex}).`,
        );
      }
    }
  }
  if ((config.checkFinite ?? resolved.checkFinite) && logits.read) {
    checkFiniteValues(logits.read() as ArrayLike<number>, logits.shape, 'logits');
  }
  return { options: resolved };
}
