// `@encouraging-loss/onnxruntime-web/session`: the loss session over the ONNX Runtime you pass. Imports no
// runtime, so an app on `onnxruntime-web/wasm` or onnxruntime-node bundles only its own.
export type { OrtRuntime, OrtRuntimeSession, OrtRuntimeTensorType } from './runtime.js';
export { EncouragingLossSession, type SessionLossWithGrad } from './session.js';
export type { OrtTensorLike } from './tensor-input.js';
