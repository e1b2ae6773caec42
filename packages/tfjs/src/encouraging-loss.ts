import {
  checkFloat32Weights,
  createEncouragingLoss,
  EncouragingLossError,
  type EncouragingLossOptions,
  type InputDescription,
  prepareInput,
  prepareSigmoidInput,
  type SigmoidEncouragingLossOptions,
} from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import { ensureFusedKernel, type FusedKernelAttrs, runFusedKernel } from './fused-kernel.js';
import { tfjsOps } from './tfjs-ops.js';

/** Where float32 comes from, for {@link checkFloat32Weights}'s message. */
const FLOAT32_OWNER = 'the dtype tfjs computes the loss in';

/**
 * Options of the tfjs loss functions: every core option (see `EncouragingLossOptions` in `@encouraging-loss/core`;
 * defaults logEnd 0.75, bonusWeight 1, mean reduction) except `checkFinite`, replaced by `checkValues`. tfjs
 * computes in float32: `bonusWeight` and `classWeights` must fit in it (≤ ~3.4e38, else `INVALID_OPTION`), and
 * should be moderate, as float32 products of them can overflow (with `'mean'`, dividing every class weight by the
 * largest gives the same loss). An unknown key is an `INVALID_OPTION` naming the nearest option.
 */
export interface TfjsEncouragingLossOptions extends Omit<EncouragingLossOptions, 'checkFinite'> {
  /**
   * Read the tensors back and check their values before computing: class indices in `[0, K)` or `ignoreIndex`,
   * soft targets in [0, 1], logits (probabilities) finite; throws `EncouragingLossError` (`INVALID_TARGET`,
   * `NON_FINITE`). Default `false`: it costs a device → host read (a GPU sync on webgl). Shapes, dtypes and options
   * are always checked, without reading anything. On cpu and wasm the fused kernel checks class indices anyway.
   */
  checkValues?: boolean;
}

/** Options of {@link sigmoidEncouragingLoss}: the core's, with `checkValues` in place of `checkFinite`. */
export interface TfjsSigmoidEncouragingLossOptions
  extends Omit<SigmoidEncouragingLossOptions, 'checkFinite'> {
  /** Check targets are 0, 1 or `ignoreIndex` and logits finite (a device read). Default `false`. */
  checkValues?: boolean;
}

/** The loss and its parts, reduced alike: `loss = crossEntropy + bonusWeight · bonus`. */
export interface TfjsLossComponents {
  loss: tf.Tensor;
  /** The cross-entropy part (NLL), to log and to compute perplexity from. */
  crossEntropy: tf.Tensor;
  /** The bonus part Σ q·b(p) (≤ 0). */
  bonus: tf.Tensor;
}

/** Which implementation runs: the fused kernel where the backend has one (`'auto'`), or the composed tfjs ops. */
export type Implementation = 'auto' | 'composed';

const composed = createEncouragingLoss(tfjsOps);

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return (value as object).constructor?.name ?? typeof value;
}

// tf.Tensors are recognised by their fields, not instanceof (a second tfjs-core copy has its own class).
function checkTensor(value: unknown, name: string): asserts value is tf.Tensor {
  const t = value as Partial<tf.Tensor> | null;
  if (
    t === null ||
    typeof t !== 'object' ||
    !Array.isArray(t.shape) ||
    typeof t.dtype !== 'string' ||
    !t.dataId
  ) {
    throw new EncouragingLossError('INVALID_SHAPE', `${name} must be a tf.Tensor, got ${describe(value)}.`);
  }
}

interface Prepared {
  /** The targets, soft ones as float32 (call inside a tidy: a cast allocates). */
  targets(): tf.Tensor;
  targetType: 'indices' | 'probabilities';
  /** Core options: validated values, classWeights as a plain array (kernel attributes are plain data). */
  options: EncouragingLossOptions & { targetType: 'indices' | 'probabilities' };
  reduction: 'mean' | 'sum' | 'none';
}

// The values a check reads (a device → host read; a GPU sync on webgl).
const describeInput = (t: tf.Tensor, read: boolean): InputDescription => ({
  shape: t.shape,
  dtype: t.dtype,
  read: read ? () => t.dataSync() as Float32Array | Int32Array : undefined,
});

function checkValuesOption(checkValues: unknown): boolean {
  if (typeof checkValues !== 'boolean') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option checkValues must be a boolean, got ${String(checkValues)}.`,
    );
  }
  return checkValues;
}

function prepare(
  logits: unknown,
  targets: unknown,
  options: TfjsEncouragingLossOptions | undefined,
): Prepared {
  checkTensor(logits, 'Logits');
  checkTensor(targets, 'Targets');
  const { checkValues = false, ...rest } = options ?? {};
  const read = checkValuesOption(checkValues);
  const { targetType, options: resolved } = prepareInput(
    describeInput(logits, read),
    describeInput(targets, read),
    { ...rest, checkFinite: read },
    {
      floatDTypes: ['float32'],
      indexDTypes: ['int32'],
      softTargetDTypes: ['float32', 'int32'],
      indexDTypeHint: "use tf.cast(targets, 'int32'), or give soft targets of the logits' shape",
    },
  );
  checkFloat32Weights(resolved, FLOAT32_OWNER);
  return {
    targets: () =>
      targets.dtype === 'int32' && targetType === 'probabilities' ? tf.cast(targets, 'float32') : targets,
    targetType,
    options: {
      ...resolved,
      checkFinite: false,
      classWeights: resolved.classWeights ? Array.from(resolved.classWeights) : undefined,
      targetType,
    },
    reduction: resolved.reduction,
  };
}

// True inside tf.grad / tf.variableGrads / optimizer.minimize: only then is the gradient computed in the forward.
function recording(): boolean {
  const state = (tf.engine() as { state?: { gradientDepth?: number } }).state;
  return state?.gradientDepth === undefined || state.gradientDepth > 0;
}

function useFused(implementation: Implementation): boolean {
  return implementation === 'auto' && ensureFusedKernel(tf.getBackend());
}

function kernelAttrs(p: Prepared, mode: FusedKernelAttrs['mode']): FusedKernelAttrs {
  const { targetType: _, ...options } = p.options;
  return { options, mode };
}

/** Multiplies the gradient of the reduced loss (of the sum for 'none') by the upstream gradient dy. */
function chain(grad: tf.Tensor, dy: tf.Tensor, reduction: Prepared['reduction']): tf.Tensor {
  return reduction === 'none' ? tf.mul(grad, tf.expandDims(dy, -1)) : tf.mul(grad, dy);
}

function lossAndGrad(logits: tf.Tensor, p: Prepared, implementation: Implementation) {
  if (useFused(implementation)) {
    const [loss, grad] = runFusedKernel(logits, p.targets(), kernelAttrs(p, 'grad'));
    return { loss, grad };
  }
  return composed.encouragingLossWithGrad(logits, p.targets(), p.options);
}

/** The tfjs loss functions with the implementation pinned (internal, not exported: the tests run both). */
export function withImplementation(implementation: Implementation) {
  function encouragingLoss(
    logits: tf.Tensor,
    targets: tf.Tensor,
    options?: TfjsEncouragingLossOptions,
  ): tf.Tensor {
    const p = prepare(logits, targets, options);
    return tf.tidy(() => {
      if (!recording()) {
        return useFused(implementation)
          ? runFusedKernel(logits, p.targets(), kernelAttrs(p, 'loss'))[0]
          : composed.encouragingLoss(logits, p.targets(), p.options);
      }
      // The loss and its closed-form gradient in one pass; tfjs autodiff never sees the composed ops.
      const withGrad = tf.customGrad((x, save) => {
        const { loss, grad } = lossAndGrad(x as tf.Tensor, p, implementation);
        (save as tf.GradSaveFunc)([grad]);
        return { value: loss, gradFunc: (dy, saved) => chain(saved[0], dy, p.reduction) };
      });
      return withGrad(logits);
    });
  }

  function encouragingLossWithGrad(
    logits: tf.Tensor,
    targets: tf.Tensor,
    options?: TfjsEncouragingLossOptions,
  ): { loss: tf.Tensor; grad: tf.Tensor } {
    const p = prepare(logits, targets, options);
    return tf.tidy(() => ({ ...lossAndGrad(logits, p, implementation) }));
  }

  function encouragingLossComponents(
    logits: tf.Tensor,
    targets: tf.Tensor,
    options?: TfjsEncouragingLossOptions,
  ): TfjsLossComponents {
    const p = prepare(logits, targets, options);
    return tf.tidy(() => {
      if (useFused(implementation)) {
        const [loss, crossEntropy, bonus] = runFusedKernel(logits, p.targets(), kernelAttrs(p, 'components'));
        return { loss, crossEntropy, bonus };
      }
      return { ...composed.encouragingLossComponents(logits, p.targets(), p.options) };
    });
  }

  return { encouragingLoss, encouragingLossWithGrad, encouragingLossComponents };
}

const auto = withImplementation('auto');

/**
 * Encouraging Loss (EL) / Conservative EL (CEL) of a batch of logits, differentiable with the exact gradient.
 *
 * Per example, with p = softmax(z) and q = (1 − ε)·onehot(y) + ε/K:
 * ℓ = Σ_k q_k · (−log p_k + ρ · b(p_k)),  b(p) = log(1 − p) for p ≤ logEnd, else its tangent at logEnd
 * (Zhao et al., AAAI 2022, Eq. 2 and the conservative bonus of Sec. 3.2). logEnd 1 is plain EL.
 *
 * Inside `tf.grad`, `tf.variableGrads` or `optimizer.minimize` the gradient is the core's closed form
 * (`tf.customGrad`), computed with the loss in one pass — tfjs autodiff never runs through the composed ops. On the
 * cpu and wasm backends a fused kernel runs the core's typed-array kernel on the tensors' memory; on other backends
 * (webgl, webgpu) the core's math runs as tfjs ops.
 *
 * @param logits - float32 `[...B, K]`, K ≥ 2 (`[N, K]`, `[B, T, V]`, …).
 * @param targets - int32 class indices `[...B]`, or one-hot / soft targets `[...B, K]` (float32 or int32).
 * @param options - see {@link TfjsEncouragingLossOptions}.
 * @returns scalar `[]` for `'mean'` / `'sum'`, the batch shape `[...B]` for `'none'`.
 * @throws EncouragingLossError (`INVALID_SHAPE`, `INVALID_DTYPE`, `INVALID_OPTION`; with `checkValues`,
 *   `INVALID_TARGET` and `NON_FINITE`).
 *
 * @example
 * ```ts
 * // const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, K), logits);
 * const loss = encouragingLoss(logits, labels, { logEnd: 0.75 });
 * const grads = tf.grad((z) => encouragingLoss(z, labels))(logits);
 * ```
 */
export function encouragingLoss(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options?: TfjsEncouragingLossOptions,
): tf.Tensor {
  return auto.encouragingLoss(logits, targets, options);
}

/**
 * The loss and its exact gradient with respect to `logits` (same shape) as two tensors, without a tape: for custom
 * training loops that apply gradients themselves. The gradient is of the reduced loss (of the sum for `'none'`).
 *
 * @example
 * ```ts
 * const { loss, grad } = encouragingLossWithGrad(logits, labels, { logEnd: 1 });
 * ```
 */
export function encouragingLossWithGrad(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options?: TfjsEncouragingLossOptions,
): { loss: tf.Tensor; grad: tf.Tensor } {
  return auto.encouragingLossWithGrad(logits, targets, options);
}

/**
 * The loss with its cross-entropy and bonus parts, reduced alike (not differentiable: for logging). EL/CEL losses
 * are negative in normal training; log `crossEntropy` to follow the fit.
 */
export function encouragingLossComponents(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options?: TfjsEncouragingLossOptions,
): TfjsLossComponents {
  return auto.encouragingLossComponents(logits, targets, options);
}

function prepareSigmoid(
  logits: unknown,
  targets: unknown,
  options: TfjsSigmoidEncouragingLossOptions | undefined,
) {
  checkTensor(logits, 'Logits');
  checkTensor(targets, 'Targets');
  const { checkValues = false, ...rest } = options ?? {};
  const read = checkValuesOption(checkValues);
  const { options: resolved } = prepareSigmoidInput(
    describeInput(logits, read),
    describeInput(targets, read),
    { ...rest, checkFinite: read },
    { floatDTypes: ['float32'], softTargetDTypes: ['float32', 'int32'] },
  );
  checkFloat32Weights(resolved, FLOAT32_OWNER);
  return { resolved: { ...resolved, checkFinite: false } };
}

/**
 * Multi-label (sigmoid) Encouraging Loss, differentiable with the exact gradient: per element, binary
 * cross-entropy with logits plus ρ·w·b(p_t), p_t the probability of the true label, w = positiveWeight or
 * negativeWeight; log(1 − p_t) = −softplus(x_t) is exact at any margin.
 *
 * @param logits - float32, any shape.
 * @param targets - 0, 1 or `ignoreIndex`, the logits' shape (float32 or int32).
 * @returns `[]` for `'mean'` (over kept elements) / `'sum'`, the logits' shape for `'none'`.
 *
 * @example
 * ```ts
 * const loss = sigmoidEncouragingLoss(logits, labels, { logEnd: 0.75, negativeWeight: 0.5 });
 * ```
 */
export function sigmoidEncouragingLoss(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options?: TfjsSigmoidEncouragingLossOptions,
): tf.Tensor {
  const { resolved } = prepareSigmoid(logits, targets, options);
  return tf.tidy(() => {
    const labels = targets.dtype === 'float32' ? targets : tf.cast(targets, 'float32');
    if (!recording()) return composed.sigmoidEncouragingLoss(logits, labels, resolved);
    const withGrad = tf.customGrad((x, save) => {
      const { loss, grad } = composed.sigmoidEncouragingLossWithGrad(x as tf.Tensor, labels, resolved);
      (save as tf.GradSaveFunc)([grad]);
      // 'none' keeps the logits' shape: the upstream gradient multiplies elementwise.
      return { value: loss, gradFunc: (dy, saved) => tf.mul(saved[0], dy) };
    });
    return withGrad(logits);
  });
}

/** {@link sigmoidEncouragingLoss} with its gradient with respect to the logits, without a tape. */
export function sigmoidEncouragingLossWithGrad(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options?: TfjsSigmoidEncouragingLossOptions,
): { loss: tf.Tensor; grad: tf.Tensor } {
  const { resolved } = prepareSigmoid(logits, targets, options);
  return tf.tidy(() => {
    const labels = targets.dtype === 'float32' ? targets : tf.cast(targets, 'float32');
    return { ...composed.sigmoidEncouragingLossWithGrad(logits, labels, resolved) };
  });
}
