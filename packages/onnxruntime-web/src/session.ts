import { type EncouragingLossOptions, resolveOptions } from '@encouraging-loss/core';
import * as ort from 'onnxruntime-web';
import { buildEncouragingLossModel, type TargetsType } from './build-model.js';
import { checkInputs, type OrtTensorLike } from './tensor-input.js';

/** `{ loss, grad }` as ORT tensors. */
export interface SessionLossWithGrad {
  /** `[]` for `'mean'`/`'sum'`, the batch shape `[...B]` for `'none'`. */
  loss: ort.Tensor;
  /** ∂loss/∂logits `[...B, K]` (the gradient of the sum for `'none'`). */
  grad: ort.Tensor;
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

/**
 * A CPU tensor of any copy of ORT (or a plain `{ dims, type, data }`) as this copy's `ort.Tensor`, without
 * copying its data; GPU tensors pass through as they are.
 */
function local(t: OrtTensorLike): ort.Tensor {
  if (t.location !== undefined && t.location !== 'cpu') return t as ort.Tensor;
  return new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
}

/**
 * The Encouraging Loss and its gradient on ONNX Runtime Web (wasm, WebGPU, …): one loss graph, traced from
 * `@encouraging-loss/core`, run by an `ort.InferenceSession`. Any batch size and rank run without rebuilding;
 * int64 (`BigInt64Array`), int32 or float32 soft targets each get their own graph, built on first use and
 * cached per option set.
 *
 * Inputs are checked before ORT sees them (dtype, rank, K, target range, finite logits), so a bad input is an
 * `EncouragingLossError`, not a runtime crash.
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
export class EncouragingLossSession {
  /** The loss options of this session. */
  readonly options: Readonly<EncouragingLossOptions>;
  private readonly sessionOptions: ort.InferenceSession.SessionOptions | undefined;
  private readonly sessions = new Map<TargetsType, Promise<ort.InferenceSession>>();

  private constructor(options: EncouragingLossOptions, sessionOptions?: ort.InferenceSession.SessionOptions) {
    this.options = options;
    this.sessionOptions = sessionOptions;
  }

  /**
   * Builds (or takes from the cache) the loss graph for int64 targets and opens a session on it.
   *
   * @param options - the loss options; validated here (`EncouragingLossError` `INVALID_OPTION`).
   * @param sessionOptions - passed to `ort.InferenceSession.create` (e.g. `{ executionProviders: ['webgpu'] }`).
   */
  static async create(
    options: EncouragingLossOptions = {},
    sessionOptions?: ort.InferenceSession.SessionOptions,
  ): Promise<EncouragingLossSession> {
    resolveOptions(options);
    const session = new EncouragingLossSession({ ...options }, sessionOptions);
    await session.sessionFor('int64');
    return session;
  }

  /**
   * The loss and its gradient.
   *
   * @param logits - float32 `[...B, K]`.
   * @param targets - int64 or int32 class indices `[...B]` (or `ignoreIndex`), or float32 soft targets `[...B, K]`.
   * @throws EncouragingLossError for a wrong dtype or rank, K not matching `classWeights`, an out-of-range
   *   target, or a non-finite logit (unless `checkFinite: false`).
   */
  async run(logits: OrtTensorLike, targets: OrtTensorLike): Promise<SessionLossWithGrad> {
    const { targetsType } = checkInputs(logits, targets, this.options);
    const session = await this.sessionFor(targetsType);
    const out = await session.run({ logits: local(logits), targets: local(targets) });
    return { loss: out.loss, grad: out.grad };
  }

  /** Releases the underlying ORT sessions. */
  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s).release()));
  }

  private sessionFor(targetsType: TargetsType): Promise<ort.InferenceSession> {
    let session = this.sessions.get(targetsType);
    if (!session) {
      session = ort.InferenceSession.create(
        cachedModel(this.options, targetsType),
        this.sessionOptions ?? {},
      );
      this.sessions.set(targetsType, session);
      session.catch(() => this.sessions.delete(targetsType));
    }
    return session;
  }
}
