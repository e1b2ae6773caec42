export {
  type AppendLossOptions,
  appendEncouragingLoss,
} from './append-loss.js';
export {
  type BuildModelOptions,
  buildEncouragingLossModel,
  buildSigmoidEncouragingLossModel,
  type LossModelOutput,
  type TargetsType,
} from './build-model.js';
export {
  type EagerLossComponents,
  type EagerLossWithGrad,
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
} from './eager.js';
export {
  type Extent,
  GraphBuilder,
  type GraphBuilderOptions,
  type GraphDType,
  type GraphValue,
} from './graph-builder.js';
export {
  experimental_decodeOnnxModel,
  experimental_encodeOnnxModel,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxTensorData,
  type OnnxValueInfo,
} from './onnx-model.js';
export { experimental_modelSummary } from './onnx-proto.js';
export type { OrtRuntime, OrtRuntimeSession, OrtRuntimeTensorType } from './runtime.js';
export type { SessionLossWithGrad } from './session.js';
export type { OrtTensorLike } from './tensor-input.js';
export { EncouragingLossSession } from './web-session.js';
