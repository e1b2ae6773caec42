import type { EncouragingLossOptions } from '@encouraging-loss/core';
import * as ort from 'onnxruntime-web';
import type { OrtRuntime } from './runtime.js';
import { EncouragingLossSession as RuntimeSession } from './session.js';
import type { OrtTensorLike } from './tensor-input.js';

/**
 * {@link RuntimeSession | EncouragingLossSession} with onnxruntime-web as the default runtime: the package's main
 * entry. Pass another runtime as the third argument, or import the class from
 * `@encouraging-loss/onnxruntime-web/session` so that onnxruntime-web is not bundled at all.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-web';
 * const session = await EncouragingLossSession.create({ logEnd: 0.75 }, { executionProviders: ['wasm'] });
 * const { loss, grad } = await session.run(
 *   new ort.Tensor('float32', logits, [N, K]),
 *   new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [N]),
 * );
 * ```
 */
export class EncouragingLossSession<
  TTensor extends OrtTensorLike = ort.Tensor,
> extends RuntimeSession<TTensor> {
  /**
   * Builds (or takes from the cache) the loss graph for int64 targets and opens a session on it.
   *
   * @param options - the loss options; validated here (`EncouragingLossError` `INVALID_OPTION`).
   * @param sessionOptions - passed to `InferenceSession.create` (e.g. `{ executionProviders: ['webgpu'] }`).
   * @param runtime - another ONNX Runtime namespace; default onnxruntime-web.
   */
  static override create<
    TTensor extends OrtTensorLike = ort.Tensor,
    TSessionOptions extends object = ort.InferenceSession.SessionOptions,
  >(
    options?: EncouragingLossOptions,
    sessionOptions?: TSessionOptions,
    runtime?: OrtRuntime<TTensor, TSessionOptions>,
  ): Promise<EncouragingLossSession<TTensor>> {
    // biome-ignore lint/complexity/noThisInStatic: super.create constructs this subclass.
    return super.create(
      options,
      sessionOptions,
      runtime ?? (ort as unknown as OrtRuntime<TTensor, TSessionOptions>),
    ) as Promise<EncouragingLossSession<TTensor>>;
  }
}
