/**
 * The training loss behind one module, so the app can switch to `@encouraging-loss/tfjs` when it lands.
 *
 * Today: a `tf.customGrad` around core's typed-array `encouragingLossWithGrad` (the fused kernel with the
 * closed-form gradient). The logits are read back once per step (`dataSync`), the loss and gradient are computed
 * in one pass, and the gradient flows back into the tfjs graph.
 */
import {
  type EncouragingLossOptions,
  encouragingLossComponents,
  encouragingLossWithGrad,
} from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import { invalidInput } from './errors.js';

export type LossKind = 'ce' | 'el' | 'cel';

/** The loss flags of `el-translate train`. */
export interface LossSettings {
  kind: LossKind;
  /** CEL's tangent point (ignored for `ce`; `el` uses 1). Default `0.5` (the paper's MT setting). */
  logEnd?: number;
  /** ρ. Default `1`. */
  bonusWeight?: number;
  /** ε, applied to the bonus too. Default `0` (the demo passes 0.1). */
  labelSmoothing?: number;
}

/** Targets equal to this are padding and contribute nothing. */
export const IGNORE_INDEX = -100;

/**
 * Core options for a setting: CE (with or without label smoothing) is EL with bonusWeight 0; EL is logEnd 1;
 * CEL keeps `logEnd`.
 */
export function lossOptions(settings: LossSettings): EncouragingLossOptions {
  if (!['ce', 'el', 'cel'].includes(settings.kind))
    invalidInput(`--loss must be ce, el or cel, got ${settings.kind}.`);
  return {
    logEnd: settings.kind === 'cel' ? (settings.logEnd ?? 0.5) : 1,
    bonusWeight: settings.kind === 'ce' ? 0 : (settings.bonusWeight ?? 1),
    labelSmoothing: settings.labelSmoothing ?? 0,
    ignoreIndex: IGNORE_INDEX,
    reduction: 'mean',
    // The logits come from our own graph; checking every value for NaN each step is a cost we skip.
    checkFinite: false,
  };
}

/**
 * Mean loss over non-padding tokens of logits `[N, V]` (flattened `[B, T, V]`) against `targets` `[N]`
 * (`IGNORE_INDEX` for padding), differentiable with respect to the logits. `capture.logits` receives the logits
 * read back for the kernel, so logging can reuse them without another device sync.
 */
export function tokenLoss(
  logits: tf.Tensor2D,
  targets: Int32Array,
  options: EncouragingLossOptions,
  capture?: { logits?: Float32Array },
): tf.Scalar {
  const [n, v] = logits.shape;
  const run = tf.customGrad((...inputs) => {
    const x = inputs[0] as tf.Tensor;
    const data = x.dataSync() as Float32Array;
    if (capture) capture.logits = data;
    const { loss, grad } = encouragingLossWithGrad(
      { data, shape: [n, v] },
      { data: targets, shape: [n] },
      options,
    );
    return {
      value: tf.scalar(loss.data[0]),
      gradFunc: (dy: tf.Tensor) => tf.mul(tf.tensor2d(grad.data as Float32Array, [n, v]), dy),
    };
  });
  return run(logits) as tf.Scalar;
}

/** Token-mean loss, NLL (CE without smoothing) and bonus of logits `[N, V]`, for logging and validation. */
export function tokenLossParts(
  logits: Float32Array,
  shape: [number, number],
  targets: Int32Array,
  options: EncouragingLossOptions,
): { loss: number; nll: number; bonus: number; tokens: number } {
  const parts = encouragingLossComponents(
    { data: logits, shape },
    { data: targets, shape: [shape[0]] },
    options,
  );
  const nll = encouragingLossComponents(
    { data: logits, shape },
    { data: targets, shape: [shape[0]] },
    { ...options, bonusWeight: 0, labelSmoothing: 0 },
  );
  let tokens = 0;
  for (const t of targets) if (t !== IGNORE_INDEX) tokens++;
  return { loss: parts.loss.data[0], nll: nll.crossEntropy.data[0], bonus: parts.bonus.data[0], tokens };
}
