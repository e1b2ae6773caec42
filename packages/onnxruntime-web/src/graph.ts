// `@encouraging-loss/onnxruntime-web/graph`: the ONNX graph builder and the models built with it. Imports no
// ONNX Runtime, so it serves onnxruntime-node, onnxruntime-react-native and build-time model export alike.
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
