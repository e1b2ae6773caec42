export {
  type BonusScheduleCallback,
  type BonusScheduleCallbackOptions,
  type BonusWeightTarget,
  bonusScheduleCallback,
} from './bonus-schedule-callback.js';
export {
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLoss,
  sigmoidEncouragingLossWithGrad,
  type TfjsEncouragingLossOptions,
  type TfjsLossComponents,
  type TfjsSigmoidEncouragingLossOptions,
} from './encouraging-loss.js';
export { ENCOURAGING_LOSS_KERNEL, FUSED_BACKENDS } from './fused-kernel.js';
export {
  categoricalEncouragingLoss,
  type KerasEncouragingLoss,
  type KerasEncouragingLossOptions,
  type KerasMetric,
  sparseCategoricalEncouragingLoss,
} from './keras-losses.js';
export { tfjsOps } from './tfjs-ops.js';
