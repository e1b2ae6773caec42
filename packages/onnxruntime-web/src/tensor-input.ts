import {
  checkFiniteValues,
  checkShapes,
  checkTargetIndices,
  EncouragingLossError,
  type EncouragingLossOptions,
  type ResolvedEncouragingLossOptions,
  resolveOptions,
} from '@encouraging-loss/core';
import type { TargetsType } from './build-model.js';

/**
 * What this package reads from an `ort.Tensor`: recognised by shape (`dims`, `type`, `data`), never by
 * `instanceof`, so tensors of another copy of onnxruntime-web (or onnxruntime-node, onnxruntime-common) work.
 */
export interface OrtTensorLike {
  readonly dims: readonly number[];
  readonly type: string;
  /** Throws for tensors that live on a GPU (`location` other than `'cpu'`). */
  readonly data: unknown;
  readonly location?: string;
}

/** What validation learned about one call. */
export interface CheckedInputs {
  classCount: number;
  targetsType: TargetsType;
  options: ResolvedEncouragingLossOptions;
}

const describe = (value: unknown) =>
  value === null || value === undefined
    ? String(value)
    : ((value as object).constructor?.name ?? typeof value);

function asTensor(value: unknown, name: string): OrtTensorLike {
  const t = value as Partial<OrtTensorLike> | null;
  if (t === null || typeof t !== 'object' || !Array.isArray(t.dims) || typeof t.type !== 'string') {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `${name} must be an ort.Tensor ({ dims, type, data }), got ${describe(value)}.`,
    );
  }
  return t as OrtTensorLike;
}

const onCpu = (t: OrtTensorLike) => t.location === undefined || t.location === 'cpu';

/**
 * Checks a session's inputs before ONNX Runtime sees them: dtypes, ranks, K against `classWeights`, target
 * range and (when `checkFinite`) finite logits, each failure an `EncouragingLossError` naming the bad value.
 * Data on a GPU is not read back.
 */
export function checkInputs(
  logitsValue: unknown,
  targetsValue: unknown,
  options: EncouragingLossOptions,
): CheckedInputs {
  const logits = asTensor(logitsValue, 'Logits');
  const targets = asTensor(targetsValue, 'Targets');
  if (logits.type !== 'float32') {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `Logits must be a float32 tensor, got ${logits.type} (shape [${logits.dims.join(', ')}]).`,
    );
  }
  let targetsType: TargetsType;
  if (targets.type === 'int64' || targets.type === 'int32') targetsType = targets.type;
  else if (targets.type === 'float32' && targets.dims.length === logits.dims.length) targetsType = 'float32';
  else {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `Targets must be int64 or int32 class indices of the batch shape (or float32 soft targets of the logits' shape), got ${targets.type} of shape [${targets.dims.join(', ')}].`,
    );
  }
  const classCount = checkShapes(
    logits.dims,
    targets.dims,
    targetsType === 'float32' ? 'probabilities' : 'indices',
  );
  const resolved = resolveOptions(options, classCount);
  if (onCpu(targets)) {
    const data = targets.data as ArrayLike<number | bigint>;
    if (targetsType === 'float32') checkFiniteValues(data as Float32Array, targets.dims, 'soft targets');
    else checkTargetIndices(data, targets.dims, classCount, resolved.ignoreIndex);
  }
  if (resolved.checkFinite && onCpu(logits)) {
    checkFiniteValues(logits.data as Float32Array, logits.dims, resolved.input);
  }
  return { classCount, targetsType, options: resolved };
}
