import { type BonusScheduleConfig, bonusSchedule, EncouragingLossError } from '@encouraging-loss/core';

/** Options of {@link bonusScheduleCallback}. */
export interface BonusScheduleCallbackOptions {
  /** A core `bonusSchedule` config, or any `(step) => ρ` (e.g. `bonusSchedule(config)` itself). */
  schedule: BonusScheduleConfig | ((step: number) => number);
  /** What a step is: `'epoch'` (default; the epoch index given to `onEpochBegin`) or `'batch'` (optimizer steps). */
  unit?: 'epoch' | 'batch';
  /** `'batch'` only: the step count to start from (to resume training). Default 0. */
  initialStep?: number;
}

/** Anything with a settable bonus weight: the losses of {@link sparseCategoricalEncouragingLoss} and co. */
export interface BonusWeightTarget {
  bonusWeight: number;
}

/**
 * Callback hooks in the shape of tfjs-layers' `CustomCallbackArgs`, for `model.fit({ callbacks })`. Logs gain
 * `bonusWeight` at each epoch's end, so `history.history.bonusWeight` records ρ.
 */
export interface BonusScheduleCallback {
  onEpochBegin(epoch: number): void;
  onBatchBegin(batch: number): void;
  onBatchEnd(batch: number): void;
  onEpochEnd(epoch: number, logs?: Record<string, unknown>): void;
}

/**
 * Applies a bonus-weight schedule (deferred start, constant / linear / cosine / exp ramp of ρ) to a Keras-style
 * Encouraging Loss during `model.fit` / `model.fitDataset`, per epoch or per batch.
 *
 * tfjs-layers wraps plain hook objects in `tf.CustomCallback`; when mixing with callback instances such as
 * `tf.callbacks.earlyStopping()`, wrap it yourself: `new tf.CustomCallback(bonusScheduleCallback(...))`.
 *
 * @param loss - the loss to drive (its `bonusWeight` is set before each epoch or batch).
 * @example
 * ```ts
 * const loss = categoricalEncouragingLoss({ logEnd: 0.75 });
 * model.compile({ optimizer: 'adam', loss });
 * await model.fit(xs, ys, {
 *   epochs: 20,
 *   callbacks: bonusScheduleCallback(loss, { schedule: { kind: 'linear', deferSteps: 5, totalSteps: 15 } }),
 * });
 * ```
 */
export function bonusScheduleCallback(
  loss: BonusWeightTarget,
  options: BonusScheduleCallbackOptions,
): BonusScheduleCallback {
  if (!loss || (typeof loss !== 'object' && typeof loss !== 'function')) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `bonusScheduleCallback needs a loss with a bonusWeight, got ${String(loss)}.`,
    );
  }
  const { schedule, unit = 'epoch', initialStep = 0 } = options ?? ({} as BonusScheduleCallbackOptions);
  if (unit !== 'epoch' && unit !== 'batch') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option unit must be 'epoch' or 'batch', got ${JSON.stringify(unit)}.`,
    );
  }
  if (!Number.isInteger(initialStep) || initialStep < 0) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option initialStep must be an integer >= 0, got ${String(initialStep)}.`,
    );
  }
  const rhoAt = typeof schedule === 'function' ? schedule : bonusSchedule(schedule);
  let step = initialStep;
  return {
    onEpochBegin(epoch) {
      if (unit === 'epoch') loss.bonusWeight = rhoAt(epoch);
    },
    onBatchBegin() {
      if (unit === 'batch') loss.bonusWeight = rhoAt(step);
    },
    onBatchEnd() {
      step++;
    },
    onEpochEnd(_epoch, logs) {
      if (logs) logs.bonusWeight = loss.bonusWeight;
    },
  };
}
