import { type EncouragingLossOptions, resolveOptions } from '@encouraging-loss/core';
import { encouragingLoss } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';

/** The losses compared, in table order. CE and LS-CE are tfjs's own cross-entropy, the baselines. */
export const LOSSES = ['CE', 'LS-CE', 'EL', 'CEL(0.75)', 'CEL(0.5)'] as const;
export type LossName = (typeof LOSSES)[number];

/** What each arm computes: tfjs's `softmaxCrossEntropy` (with label smoothing ε), or our loss with these options. */
export const LOSS_SETTINGS: Record<
  LossName,
  { tfjsLabelSmoothing: number } | { encouraging: EncouragingLossOptions }
> = {
  CE: { tfjsLabelSmoothing: 0 },
  'LS-CE': { tfjsLabelSmoothing: 0.1 },
  EL: { encouraging: { logEnd: 1 } },
  'CEL(0.75)': { encouraging: { logEnd: 0.75 } },
  'CEL(0.5)': { encouraging: { logEnd: 0.5 } },
};

/**
 * How an arm is recorded in results.json: tfjs's cross-entropy, or every core option with its default applied (so
 * a change of a default, such as `bonusFloor`, shows in the file and invalidates the runs made before it).
 */
export function describeLoss(name: LossName): Record<string, unknown> {
  const setting = LOSS_SETTINGS[name];
  if ('tfjsLabelSmoothing' in setting) {
    return { implementation: 'tf.losses.softmaxCrossEntropy', labelSmoothing: setting.tfjsLabelSmoothing };
  }
  const { classWeights: _, ...resolved } = resolveOptions(setting.encouraging);
  return { implementation: '@encouraging-loss/tfjs encouragingLoss', ...resolved };
}

/** The mean loss of a batch: logits `[B, 10]`, labels `[B]` int32. */
export function lossFunction(name: LossName): (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar {
  const setting = LOSS_SETTINGS[name];
  if ('tfjsLabelSmoothing' in setting) {
    const smoothing = setting.tfjsLabelSmoothing;
    return (logits, labels) =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits, undefined, smoothing);
  }
  return (logits, labels) => encouragingLoss(logits, labels, setting.encouraging) as tf.Scalar;
}
