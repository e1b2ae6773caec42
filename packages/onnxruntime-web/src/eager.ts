import * as core from '@encouraging-loss/core';
import {
  EncouragingLossError,
  type EncouragingLossOptions,
  type SigmoidEncouragingLossOptions,
} from '@encouraging-loss/core';
import * as ort from 'onnxruntime-web';
import type { OrtTensorLike } from './tensor-input.js';

/** `{ loss, grad }` as CPU `ort.Tensor`s. */
export interface EagerLossWithGrad {
  loss: ort.Tensor;
  grad: ort.Tensor;
}

/** `{ loss, crossEntropy, bonus }` as CPU `ort.Tensor`s, reduced alike. */
export interface EagerLossComponents {
  loss: ort.Tensor;
  crossEntropy: ort.Tensor;
  bonus: ort.Tensor;
}

const floatTypes = new Set(['float32', 'float64']);
const targetTypes = new Set(['int32', 'int64', 'float32', 'float64']);

function plain(tensor: OrtTensorLike, name: 'Logits' | 'Targets') {
  const t = tensor as Partial<OrtTensorLike> | null;
  if (t === null || typeof t !== 'object' || !Array.isArray(t.dims) || typeof t.type !== 'string') {
    throw new EncouragingLossError('INVALID_SHAPE', `${name} must be an ort.Tensor ({ dims, type, data }).`);
  }
  const allowed = name === 'Logits' ? floatTypes : targetTypes;
  if (!allowed.has(t.type)) {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `${name} must be ${[...allowed].join(' or ')}, got ${t.type} (shape [${t.dims.join(', ')}]).`,
    );
  }
  if (t.location !== undefined && t.location !== 'cpu') {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `${name} live on '${t.location}'; the eager helpers read CPU tensors (use EncouragingLossSession on a GPU).`,
    );
  }
  return { data: t.data as Float32Array & Int32Array & BigInt64Array, shape: [...t.dims] };
}

const toOrt = (t: { data: Float32Array | Float64Array; shape: readonly number[] }) =>
  new ort.Tensor(t.data instanceof Float32Array ? 'float32' : 'float64', t.data, t.shape);

/**
 * The loss and its gradient of CPU `ort.Tensor`s, computed in JS by the core's fused typed-array kernel (no
 * session, no graph). Float32 in → float32 out.
 *
 * @param logits - float32 (or float64) `[...B, K]`.
 * @param targets - int64 / int32 class indices `[...B]`, or float soft targets `[...B, K]`.
 * @example
 * ```ts
 * const { loss, grad } = encouragingLossWithGrad(new ort.Tensor('float32', z, [N, K]), labels, { logEnd: 1 });
 * ```
 */
export function encouragingLossWithGrad(
  logits: OrtTensorLike,
  targets: OrtTensorLike,
  options?: EncouragingLossOptions,
): EagerLossWithGrad {
  const out = core.encouragingLossWithGrad(plain(logits, 'Logits'), plain(targets, 'Targets'), options);
  return { loss: toOrt(out.loss), grad: toOrt(out.grad) };
}

/** The reduced loss of CPU `ort.Tensor`s (see {@link encouragingLossWithGrad}). */
export function encouragingLoss(
  logits: OrtTensorLike,
  targets: OrtTensorLike,
  options?: EncouragingLossOptions,
): ort.Tensor {
  return toOrt(core.encouragingLoss(plain(logits, 'Logits'), plain(targets, 'Targets'), options));
}

/** The loss with its cross-entropy and bonus parts, of CPU `ort.Tensor`s. */
export function encouragingLossComponents(
  logits: OrtTensorLike,
  targets: OrtTensorLike,
  options?: EncouragingLossOptions,
): EagerLossComponents {
  const out = core.encouragingLossComponents(plain(logits, 'Logits'), plain(targets, 'Targets'), options);
  return { loss: toOrt(out.loss), crossEntropy: toOrt(out.crossEntropy), bonus: toOrt(out.bonus) };
}

/** The multi-label (sigmoid) variant and its gradient, of CPU `ort.Tensor`s; targets 0/1/ignoreIndex. */
export function sigmoidEncouragingLossWithGrad(
  logits: OrtTensorLike,
  targets: OrtTensorLike,
  options?: SigmoidEncouragingLossOptions,
): EagerLossWithGrad {
  const out = core.sigmoidEncouragingLossWithGrad(
    plain(logits, 'Logits'),
    plain(targets, 'Targets'),
    options,
  );
  return {
    loss: toOrt(out.loss as { data: Float32Array | Float64Array; shape: number[] }),
    grad: toOrt(out.grad as { data: Float32Array | Float64Array; shape: number[] }),
  };
}
