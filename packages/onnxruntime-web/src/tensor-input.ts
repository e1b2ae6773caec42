import {
  EncouragingLossError,
  type EncouragingLossOptions,
  type InputDescription,
  prepareInput,
  type ResolvedEncouragingLossOptions,
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

// Data on a GPU is not read back: its value checks are skipped.
const describeInput = (t: OrtTensorLike): InputDescription => ({
  shape: t.dims,
  dtype: t.type,
  read: onCpu(t) ? () => t.data as ArrayLike<number | bigint> : undefined,
});

/**
 * Checks a session's inputs before ONNX Runtime sees them (core's `prepareInput`): dtypes, ranks, K against
 * `classWeights`, target range and (when `checkFinite`) finite logits, each failure an `EncouragingLossError`
 * naming the bad value. Data on a GPU is not read back.
 */
export function checkInputs(
  logitsValue: unknown,
  targetsValue: unknown,
  options: EncouragingLossOptions,
): CheckedInputs {
  const logits = asTensor(logitsValue, 'Logits');
  const targets = asTensor(targetsValue, 'Targets');
  const prepared = prepareInput(describeInput(logits), describeInput(targets), options, {
    floatDTypes: ['float32'],
    indexDTypes: ['int64', 'int32'],
    softTargetDTypes: ['float32'],
  });
  const targetsType: TargetsType =
    prepared.targetType === 'probabilities' ? 'float32' : (targets.type as 'int64' | 'int32');
  return { classCount: prepared.classCount, targetsType, options: prepared.options };
}
