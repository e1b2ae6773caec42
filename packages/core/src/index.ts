export { type BonusScheduleConfig, type BonusScheduleKind, bonusSchedule } from './bonus-schedule.js';
export {
  composedLog1p,
  composedLogSoftmax,
  composedLogSumExp,
  composedSoftplus,
  composedSumLog,
  createEncouragingLoss,
  type EncouragingLossFunctions,
  type GenericEncouragingLossOptions,
  type LossComponents,
  type LossWithGrad,
  type TargetType,
} from './composed.js';
export {
  type EncouragingLossWithGradOptions,
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  type FloatTensor,
  type LogitsInput,
  type OutputOf,
  type PlainLossComponents,
  type PlainLossWithGrad,
  sigmoidEncouragingLoss,
  sigmoidEncouragingLossWithGrad,
  type TargetsInput,
} from './encouraging-loss.js';
export { EncouragingLossError, type EncouragingLossErrorCode, isEncouragingLossError } from './errors.js';
export { checkFloat32Weights, type Float32Weights } from './float32-weights.js';
export { type FloatArray, fusedEncouragingLoss, type KernelResult } from './fused-kernel.js';
export { type LossPresetName, type LossPresetSettings, lossPreset } from './loss-preset.js';
export {
  DEFAULT_OPTIONS,
  type EncouragingLossOptions,
  type InputKind,
  type Numerics,
  REFERENCE_CLAMP,
  type Reduction,
  type ResolvedEncouragingLossOptions,
  type ResolvedSigmoidEncouragingLossOptions,
  resolveOptions,
  resolveSigmoidOptions,
  type SigmoidEncouragingLossOptions,
} from './options.js';
export {
  type InputDescription,
  type PreparedInput,
  type PrepareInputConfig,
  prepareInput,
  prepareSigmoidInput,
} from './prepare-input.js';
export { mulberry32Next, mulberry32Value, seededRandom } from './seeded-random.js';
export type { TensorOps, TensorOpsV1 } from './tensor-ops.js';
export { type ArrayDType, type ArrayTensor, arrayTensor, typedArrayOps } from './typed-array-ops.js';
export { checkFiniteValues, checkShapes, checkTargetIndices, coordinatesOf } from './validation.js';
