export {
  type EagerLossComponents,
  type EagerLossWithGrad,
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
} from './eager.js';
// The graph side (builder, loss models, the ONNX model writer) is the runtime-free `/graph` entry, re-exported
// whole so the two entries cannot drift.
export * from './graph.js';
export type { OrtRuntime, OrtRuntimeSession, OrtRuntimeTensorType } from './runtime.js';
export type { SessionLossWithGrad } from './session.js';
export type { OrtTensorLike } from './tensor-input.js';
export { EncouragingLossSession } from './web-session.js';
