import type { OrtTensorLike } from './tensor-input.js';

/** The tensor dtypes this package hands to the runtime. */
export type OrtRuntimeTensorType = 'float32' | 'int32' | 'int64';

/** What a session needs from a runtime's `InferenceSession`: `run` and `release` (ORT's own signatures fit). */
export interface OrtRuntimeSession<TTensor extends OrtTensorLike = OrtTensorLike> {
  run(feeds: Record<string, TTensor>): Promise<Record<string, TTensor>>;
  release(): Promise<void>;
}

/**
 * An ONNX Runtime for JavaScript, passed in rather than imported: the namespace of `onnxruntime-web`,
 * `onnxruntime-web/wasm`, `onnxruntime-web/webgpu`, `onnxruntime-node` or `onnxruntime-react-native` fits as it
 * is. Only `InferenceSession.create` and the `Tensor` constructor are used; matched by shape, so any copy works.
 *
 * @typeParam TTensor - the runtime's tensor type (what sessions return).
 * @typeParam TSessionOptions - the runtime's `InferenceSession.SessionOptions`.
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * import { EncouragingLossSession } from '@encouraging-loss/onnxruntime-web/session';
 * const session = await EncouragingLossSession.create({ logEnd: 0.75 }, {}, ort);
 * ```
 */
export interface OrtRuntime<TTensor extends OrtTensorLike = OrtTensorLike, TSessionOptions = object> {
  readonly Tensor: new (
    type: OrtRuntimeTensorType,
    data: Float32Array | Int32Array | BigInt64Array,
    dims: readonly number[],
  ) => TTensor;
  readonly InferenceSession: {
    create(model: Uint8Array, options?: TSessionOptions): Promise<OrtRuntimeSession<TTensor>>;
  };
}
