import {
  checkFloat32Weights,
  checkTargetIndices,
  EncouragingLossError,
  resolveOptions,
} from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  type TfjsEncouragingLossOptions,
} from './encouraging-loss.js';

/** Where float32 comes from, for {@link checkFloat32Weights}'s message. */
const FLOAT32_OWNER = 'the dtype tfjs computes the loss in';

/** Options of the Keras-style losses: the loss options (per-example losses, so no `reduction`) and `fromLogits`. */
export interface KerasEncouragingLossOptions extends Omit<TfjsEncouragingLossOptions, 'reduction' | 'input'> {
  /**
   * `false` (default, the Keras convention): the model ends in a softmax and `yPred` holds probabilities.
   * `true`: `yPred` holds logits (a model without the final softmax; slightly faster and exact at any margin).
   */
  fromLogits?: boolean;
}

/** A `(yTrue, yPred) => Tensor` metric for `model.compile({ metrics })`, named for the logs. */
export type KerasMetric = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * A loss function for `model.compile({ loss })`: `(yTrue, yPred) → per-example losses [N]` (the model averages
 * them and applies sample / class weights, as with tfjs's own losses), with a settable bonus weight ρ and the
 * metrics that log its two parts.
 */
export interface KerasEncouragingLoss {
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;
  /** The bonus weight ρ used from the next call on; {@link bonusScheduleCallback} sets it during `model.fit`. */
  bonusWeight: number;
  /**
   * `[crossEntropy, bonus]`: per-example cross-entropy −Σ q log p and bonus Σ q b(p) (unweighted by ρ), logged by
   * `model.fit` as `crossEntropy` and `bonus` (and `val_…`). Spread them into `metrics`.
   */
  readonly metrics: readonly [KerasMetric, KerasMetric];
}

/** The smallest normal float32: probabilities are clamped to it before the log (as the core does). */
const SMALLEST_FLOAT32 = 1.1754943508222875e-38;

function named<F extends KerasMetric>(name: string, fn: F): F {
  return Object.defineProperty(fn, 'name', { value: name });
}

function createKerasLoss(kind: 'sparse' | 'categorical', options: KerasEncouragingLossOptions = {}) {
  if (options === null || typeof options !== 'object') {
    throw new EncouragingLossError('INVALID_OPTION', `Options must be an object, got ${String(options)}.`);
  }
  const { fromLogits = false, ...lossOptions } = options;
  if (typeof fromLogits !== 'boolean') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option fromLogits must be a boolean, got ${String(fromLogits)}.`,
    );
  }
  // Validated now, not at the first batch (classWeights' length is checked against K then). Only loss options
  // reach core: fromLogits and checkValues are this layer's.
  const { checkValues = false, ...coreOptions } = lossOptions;
  if (typeof checkValues !== 'boolean') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option checkValues must be a boolean, got ${String(checkValues)}.`,
    );
  }
  const resolved = resolveOptions(coreOptions);
  checkFloat32Weights(resolved, FLOAT32_OWNER);
  let bonusWeight = resolved.bonusWeight;
  const current = (): TfjsEncouragingLossOptions => ({ ...lossOptions, bonusWeight, reduction: 'none' });

  // Keras passes sparse labels as [N] or [N, 1], often float32; soft labels as [N, K].
  const targetsOf = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor => {
    if (kind === 'categorical') return yTrue;
    const squeezed =
      yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === 1
        ? tf.squeeze(yTrue, [yTrue.rank - 1])
        : yTrue;
    if (squeezed.dtype === 'int32') return squeezed;
    // The cast to int32 truncates (1.5 → 1) and wraps: with checkValues, read the labels before it.
    const classCount = yPred.shape[yPred.rank - 1];
    if (checkValues === true && classCount !== undefined) {
      checkTargetIndices(squeezed.dataSync(), squeezed.shape, classCount, resolved.ignoreIndex);
    }
    return tf.cast(squeezed, 'int32');
  };

  // Probabilities: u = log(max(p, tiny)) goes through the logits path (log-softmax of u is log p on the simplex,
  // so values equal the core's input: 'probabilities'), and the gradient w.r.t. p is G / max(p, tiny), G the logits
  // gradient. G sums to zero per row, so the softmax's backward (p ⊙ (g − Σ p g)) returns G itself: EL's target
  // gradient stays −1 at any margin, where the partial derivative −(1 + ρ p/(1 − p))/p would cancel catastrophically.
  const fromProbabilities = (yPred: tf.Tensor, targets: tf.Tensor, opts: TfjsEncouragingLossOptions) =>
    tf.customGrad((p, save) => {
      const floor = tf.maximum(p as tf.Tensor, tf.scalar(SMALLEST_FLOAT32));
      const { loss, grad } = encouragingLossWithGrad(tf.log(floor), targets, opts);
      (save as tf.GradSaveFunc)([tf.div(grad, floor)]);
      return { value: loss, gradFunc: (dy, saved) => tf.mul(saved[0], tf.expandDims(dy, -1)) };
    })(yPred);

  const loss = ((yTrue: tf.Tensor, yPred: tf.Tensor) =>
    tf.tidy(() => {
      const targets = targetsOf(yTrue, yPred);
      const opts = current();
      if (fromLogits) return encouragingLoss(yPred, targets, opts);
      const state = (tf.engine() as { state?: { gradientDepth?: number } }).state;
      if (state?.gradientDepth === 0) {
        return encouragingLoss(tf.log(tf.maximum(yPred, tf.scalar(SMALLEST_FLOAT32))), targets, opts);
      }
      return fromProbabilities(yPred, targets, opts);
    })) as KerasEncouragingLoss;

  const part = (which: 'crossEntropy' | 'bonus'): KerasMetric =>
    named(which, (yTrue, yPred) =>
      tf.tidy(() => {
        const targets = targetsOf(yTrue, yPred);
        const logits = fromLogits ? yPred : tf.log(tf.maximum(yPred, tf.scalar(SMALLEST_FLOAT32)));
        const parts = encouragingLossComponents(logits, targets, current());
        return parts[which];
      }),
    );

  Object.defineProperty(loss, 'name', {
    value: kind === 'sparse' ? 'sparseCategoricalEncouragingLoss' : 'categoricalEncouragingLoss',
  });
  Object.defineProperty(loss, 'bonusWeight', {
    get: () => bonusWeight,
    set: (value: number) => {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new EncouragingLossError(
          'INVALID_OPTION',
          `bonusWeight must be a finite number >= 0, got ${String(value)}.`,
        );
      }
      checkFloat32Weights({ bonusWeight: value }, FLOAT32_OWNER);
      bonusWeight = value;
    },
    enumerable: true,
  });
  Object.defineProperty(loss, 'metrics', {
    value: [part('crossEntropy'), part('bonus')] as const,
    enumerable: true,
  });
  return loss;
}

/**
 * Encouraging Loss for `model.compile` with integer class labels (the counterpart of tfjs's
 * `sparseCategoricalCrossentropy`): `yTrue` holds class indices `[N]` or `[N, 1]` (any dtype, integer-valued),
 * `yPred` probabilities `[N, K]` (or logits with `fromLogits: true`). Returns per-example losses `[N]`. Float labels
 * are cast to int32, which truncates: with `checkValues: true` a label that is not an integer class in `[0, K)` or
 * `ignoreIndex` (1.5, NaN, 1e10) is an `INVALID_TARGET` naming the value and its index.
 *
 * tfjs-layers checks the targets given to `model.fit(x, y)` against the output shape `[N, K]` for every loss but
 * its own sparse one, so use this loss with `model.fitDataset`, or one-hot labels with
 * {@link categoricalEncouragingLoss} in `model.fit`.
 *
 * @example
 * ```ts
 * const loss = sparseCategoricalEncouragingLoss({ logEnd: 0.75 });
 * model.compile({ optimizer: 'adam', loss, metrics: ['accuracy', ...loss.metrics] });
 * await model.fitDataset(dataset, { epochs: 10 });
 * ```
 */
export function sparseCategoricalEncouragingLoss(
  options?: KerasEncouragingLossOptions,
): KerasEncouragingLoss {
  return createKerasLoss('sparse', options);
}

/**
 * Encouraging Loss for `model.compile` with one-hot (or soft) labels `[N, K]` (the counterpart of tfjs's
 * `categoricalCrossentropy`): `yPred` holds probabilities (or logits with `fromLogits: true`). Returns per-example
 * losses `[N]`.
 *
 * @example
 * ```ts
 * // model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * const loss = categoricalEncouragingLoss({ logEnd: 0.75 });
 * model.compile({ optimizer: 'adam', loss, metrics: ['accuracy', ...loss.metrics] });
 * await model.fit(xs, tf.oneHot(labels, K), { epochs: 10 });
 * ```
 */
export function categoricalEncouragingLoss(options?: KerasEncouragingLossOptions): KerasEncouragingLoss {
  return createKerasLoss('categorical', options);
}
