import {
  checkFloat32Weights,
  EncouragingLossError,
  type EncouragingLossOptions,
  encouragingLossWithGrad,
  resolveOptions,
} from '@encouraging-loss/core';
import { buildEncouragingLossModel, type TargetsType } from './build-model.js';
import type { OrtRuntime, OrtRuntimeSession } from './runtime.js';
import { checkInputs, type OrtTensorLike } from './tensor-input.js';

/** Where float32 comes from, for {@link checkFloat32Weights}'s message. */
const FLOAT32_OWNER = 'the dtype of the ONNX loss graphs';

/** `{ loss, grad }` as tensors of the session's runtime. */
export interface SessionLossWithGrad<TTensor extends OrtTensorLike = OrtTensorLike> {
  /** `[]` for `'mean'`/`'sum'`, the batch shape `[...B]` for `'none'`. */
  loss: TTensor;
  /** ∂loss/∂logits `[...B, K]` (the gradient of the sum for `'none'`). */
  grad: TTensor;
}

const MODEL_CACHE_SIZE = 32;
/** Built models by option set and targets type; building is pure, so a model is shared by every session. */
const modelCache = new Map<string, Uint8Array>();

function cacheKey(options: EncouragingLossOptions, targetsType: TargetsType): string {
  const resolved = resolveOptions(options);
  return JSON.stringify({
    ...resolved,
    classWeights: resolved.classWeights ? Array.from(resolved.classWeights) : null,
    checkFinite: undefined,
    targetsType,
  });
}

function cachedModel(options: EncouragingLossOptions, targetsType: TargetsType): Uint8Array {
  const key = cacheKey(options, targetsType);
  let bytes = modelCache.get(key);
  if (bytes) {
    modelCache.delete(key); // re-insert: most recently used last
  } else {
    bytes = buildEncouragingLossModel(options, { outputs: ['loss', 'grad'], targetsType });
    if (modelCache.size >= MODEL_CACHE_SIZE) modelCache.delete(modelCache.keys().next().value!);
  }
  modelCache.set(key, bytes);
  return bytes;
}

function checkRuntime(runtime: unknown): asserts runtime is OrtRuntime {
  const r = runtime as Partial<OrtRuntime> | null | undefined;
  if (typeof r?.Tensor !== 'function' || typeof r.InferenceSession?.create !== 'function') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      'The runtime must be an ONNX Runtime namespace with InferenceSession and Tensor (e.g. `import * as ort from "onnxruntime-node"`), got ' +
        `${runtime === null || typeof runtime !== 'object' ? String(runtime) : 'an object without them'}.`,
    );
  }
}

/**
 * The Encouraging Loss and its gradient on the ONNX Runtime you pass (onnxruntime-web, `onnxruntime-web/wasm`,
 * onnxruntime-node, onnxruntime-react-native): one loss graph, traced from `@encouraging-loss/core`, run by the
 * runtime's `InferenceSession`. Any batch size and rank run without rebuilding; int64 (`BigInt64Array`), int32
 * or float32 soft targets each get their own graph, built on first use and cached per option set.
 *
 * Inputs are checked before ORT sees them (dtype, rank, K, target range, finite logits), so a bad input is an
 * `EncouragingLossError`, not a runtime crash.
 *
 * This entry (`@encouraging-loss/onnxruntime-web/session`) imports no runtime: bundle only the one you use. The
 * package's main entry exports a subclass whose `runtime` defaults to onnxruntime-web.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * import { EncouragingLossSession } from '@encouraging-loss/onnxruntime-web/session';
 *
 * const session = await EncouragingLossSession.create({ logEnd: 0.75 }, {}, ort);
 * const { loss, grad } = await session.run(
 *   new ort.Tensor('float32', logits, [N, K]),
 *   new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [N]),
 * );
 * ```
 */
export class EncouragingLossSession<TTensor extends OrtTensorLike = OrtTensorLike> {
  /** The loss options of this session. */
  readonly options: Readonly<EncouragingLossOptions>;
  /** The runtime the sessions run in. */
  readonly runtime: OrtRuntime<TTensor>;
  private readonly sessionOptions: object | undefined;
  private readonly sessions = new Map<TargetsType, Promise<OrtRuntimeSession<TTensor>>>();

  protected constructor(
    options: EncouragingLossOptions,
    runtime: OrtRuntime<TTensor>,
    sessionOptions?: object,
  ) {
    this.options = options;
    this.runtime = runtime;
    this.sessionOptions = sessionOptions;
  }

  /**
   * Builds (or takes from the cache) the loss graph for int64 targets and opens a session on it.
   *
   * @param options - the loss options only (the core's `EncouragingLossOptions`); validated here
   *   (`EncouragingLossError` `INVALID_OPTION`), `classWeights` and `bonusWeight` also against the float32
   *   range the graph computes in.
   * @param sessionOptions - passed to `InferenceSession.create` (e.g. `{ executionProviders: ['webgpu'] }`).
   * @param runtime - the ONNX Runtime namespace (`import * as ort from 'onnxruntime-node'`).
   */
  static async create<TTensor extends OrtTensorLike, TSessionOptions extends object>(
    options: EncouragingLossOptions = {},
    sessionOptions: TSessionOptions | undefined,
    runtime: OrtRuntime<TTensor, TSessionOptions>,
  ): Promise<EncouragingLossSession<TTensor>> {
    checkFloat32Weights(resolveOptions(options), FLOAT32_OWNER);
    checkRuntime(runtime);
    // biome-ignore lint/complexity/noThisInStatic: a subclass (the main entry's, with a default runtime) creates its own instances.
    const Session = this as unknown as new (
      options: EncouragingLossOptions,
      runtime: OrtRuntime<TTensor>,
      sessionOptions?: object,
    ) => EncouragingLossSession<TTensor>;
    const session = new Session({ ...options }, runtime as OrtRuntime<TTensor>, sessionOptions);
    await session.sessionFor('int64');
    return session;
  }

  /**
   * The loss and its gradient.
   *
   * @param logits - float32 `[...B, K]`.
   * @param targets - int64 or int32 class indices `[...B]` (or `ignoreIndex`), or float32 soft targets `[...B, K]`.
   * An empty batch (`[0, K]`, `[B, 0, K]`) gives what core gives without running ORT (whose TopK kernel divides
   * by zero on it): loss 0 for `'mean'`/`'sum'`, an empty `[...B]` for `'none'`, an empty gradient.
   *
   * @throws EncouragingLossError for a wrong dtype or rank, K < 2 or not matching `classWeights`, an out-of-range
   *   target, or a non-finite logit (unless `checkFinite: false`).
   */
  async run(logits: OrtTensorLike, targets: OrtTensorLike): Promise<SessionLossWithGrad<TTensor>> {
    const { targetsType } = checkInputs(logits, targets, this.options);
    if (logits.dims.includes(0)) return this.emptyBatch(logits, targets, targetsType);
    const session = await this.sessionFor(targetsType);
    const out = await session.run({ logits: this.local(logits), targets: this.local(targets) });
    return { loss: out.loss, grad: out.grad };
  }

  /** Core's result for a batch without examples (nothing to read: the shapes say it all), as runtime tensors. */
  private emptyBatch(
    logits: OrtTensorLike,
    targets: OrtTensorLike,
    targetsType: TargetsType,
  ): SessionLossWithGrad<TTensor> {
    const { loss, grad } = encouragingLossWithGrad(
      { data: new Float32Array(0), shape: logits.dims },
      {
        data: targetsType === 'float32' ? new Float32Array(0) : new Int32Array(0),
        shape: targets.dims,
      },
      this.options,
    );
    const tensor = (t: { data: Float32Array | Float64Array; shape: readonly number[] }) =>
      new this.runtime.Tensor('float32', Float32Array.from(t.data), t.shape);
    return { loss: tensor(loss), grad: tensor(grad) };
  }

  /** Releases the underlying ORT sessions. */
  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s).release()));
  }

  /**
   * A CPU tensor of any copy of ORT (or a plain `{ dims, type, data }`) as this runtime's tensor, without copying
   * its data; GPU tensors pass through as they are.
   */
  private local(t: OrtTensorLike): TTensor {
    if (t.location !== undefined && t.location !== 'cpu') return t as TTensor;
    return new this.runtime.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  }

  private sessionFor(targetsType: TargetsType): Promise<OrtRuntimeSession<TTensor>> {
    let session = this.sessions.get(targetsType);
    if (!session) {
      session = this.runtime.InferenceSession.create(
        cachedModel(this.options, targetsType),
        this.sessionOptions ?? {},
      );
      this.sessions.set(targetsType, session);
      session.catch(() => this.sessions.delete(targetsType));
    }
    return session;
  }
}
