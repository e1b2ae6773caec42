/**
 * The training loss, from `@encouraging-loss/tfjs`: a `tf.customGrad` whose gradient is core's closed form. On the
 * cpu and wasm backends the adapter's fused kernel reads the logits in place, so a step costs one pass over
 * `[B, T, V]` for the loss and its gradient together.
 */
import {
  encouragingLoss,
  encouragingLossComponents,
  type TfjsEncouragingLossOptions,
} from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { invalidOption } from '../errors.js';

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
 * Adapter options for a setting: CE (with or without label smoothing) is EL with bonusWeight 0; EL is logEnd 1;
 * CEL keeps `logEnd`. The reduction is a sum over non-padding tokens: the trainer divides by the step's token
 * count, so accumulated micro-batches weigh every token alike.
 */
export function lossOptions(settings: LossSettings): TfjsEncouragingLossOptions {
  if (!['ce', 'el', 'cel'].includes(settings.kind))
    invalidOption(`--loss must be ce, el or cel, got ${settings.kind}.`);
  return {
    logEnd: settings.kind === 'cel' ? (settings.logEnd ?? 0.5) : 1,
    bonusWeight: settings.kind === 'ce' ? 0 : (settings.bonusWeight ?? 1),
    labelSmoothing: settings.labelSmoothing ?? 0,
    ignoreIndex: IGNORE_INDEX,
    reduction: 'sum',
  };
}

/**
 * Summed loss over the non-padding tokens of logits `[B, T, V]` against labels `[B, T]` (int32, `IGNORE_INDEX`
 * for padding), differentiable with respect to the logits.
 */
export function tokenLoss(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: TfjsEncouragingLossOptions,
): tf.Scalar {
  return encouragingLoss(logits, labels, options) as tf.Scalar;
}

/** Per-token means of the loss, NLL (plain CE: no smoothing, no bonus) and bonus, for logging and validation. */
export interface LossParts {
  loss: number;
  nll: number;
  bonus: number;
  /** Non-padding tokens. */
  tokens: number;
}

/**
 * {@link LossParts} of logits `[B, T, V]` and labels `[B, T]`. The adapter's components give the loss and the
 * (smoothed) bonus in one pass; the NLL for perplexity is a second pass with ε = 0 and ρ = 0, since with label
 * smoothing the adapter's `crossEntropy` part is the smoothed one.
 */
export function tokenLossParts(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: TfjsEncouragingLossOptions,
): LossParts {
  const summed = { ...options, reduction: 'sum' as const };
  const [loss, bonus, nll] = tf.tidy(() => {
    const parts = encouragingLossComponents(logits, labels, summed);
    const plain = encouragingLossComponents(logits, labels, { ...summed, bonusWeight: 0, labelSmoothing: 0 });
    return [parts.loss, parts.bonus, plain.crossEntropy].map((t) => t.dataSync()[0]);
  });
  let tokens = 0;
  for (const t of labels.dataSync()) if (t !== IGNORE_INDEX) tokens++;
  const per = Math.max(1, tokens);
  return { loss: loss / per, nll: nll / per, bonus: bonus / per, tokens };
}
