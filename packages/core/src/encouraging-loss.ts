import { createEncouragingLoss } from './composed.js';
import { EncouragingLossError } from './errors.js';
import { type FloatArray, fusedEncouragingLoss } from './fused-kernel.js';
import {
  type EncouragingLossOptions,
  type ResolvedEncouragingLossOptions,
  resolveOptions,
  resolveSigmoidOptions,
  type SigmoidEncouragingLossOptions,
} from './options.js';
import { type ArrayTensor, arrayTensor, typedArrayOps } from './typed-array-ops.js';
import { checkFiniteValues, checkShapes, checkTargetIndices } from './validation.js';
import { wasmEncouragingLoss, wasmKernel } from './wasm-kernel.js';

/** A float tensor on the plain API: row-major values and a shape. */
export interface FloatTensor<D extends FloatArray = FloatArray> {
  data: D;
  shape: number[];
}

/** Logits (or log-probabilities / probabilities) as the plain API accepts them. */
export interface LogitsInput {
  data: Float32Array | Float64Array | readonly number[];
  shape: readonly number[];
}

/**
 * Targets as the plain API accepts them: integer class indices of the batch shape `[...B]`
 * (`Int32Array`, `number[]` or int64 `BigInt64Array`), or soft targets `[...B, K]` (same rank as the logits).
 */
export interface TargetsInput {
  data: Int32Array | BigInt64Array | Float32Array | Float64Array | readonly number[];
  shape: readonly number[];
}

/** Output float type follows the input: Float32Array in → Float32Array out; Float64Array or number[] → Float64Array. */
export type OutputOf<L extends LogitsInput> = L['data'] extends Float32Array ? Float32Array : Float64Array;

/** `{ loss, grad }` of the plain API. */
export interface PlainLossWithGrad<D extends FloatArray = FloatArray> {
  /** `[]` for `'mean'`/`'sum'`, the batch shape for `'none'`. */
  loss: FloatTensor<D>;
  /** Same shape as the input: the gradient of the reduced loss (of the sum for `'none'`). */
  grad: FloatTensor<D>;
}

/**
 * Options of {@link encouragingLossWithGrad}: the loss options, and a gradient buffer to reuse between calls.
 */
export interface EncouragingLossWithGradOptions<D extends FloatArray = FloatArray>
  extends EncouragingLossOptions {
  /**
   * Write the gradient into this buffer and return it as `grad.data` (the same object) instead of allocating a new
   * one per call. A training loop that reuses it saves a gradient-sized allocation each step; on `[512, 32000]`
   * the page faults of a fresh buffer cost more than a pass over the logits (docs/performance.md). Every entry is
   * overwritten. Must be of the logits' float type (`Float32Array` for `Float32Array` logits, `Float64Array` for
   * `Float64Array` or `number[]`) and length N·K: otherwise `EncouragingLossError` (`INVALID_DTYPE`,
   * `INVALID_SHAPE`). It may be the logits' own array (`out: logits.data`): the gradient then replaces the logits
   * in place, and no N·K buffer is allocated at all. Any other overlap with the logits is `INVALID_OPTION`. If the
   * call throws after validation (a `NON_FINITE` logit found by the kernel), the contents of `out` (and, in
   * place, of the logits) are unspecified.
   */
  out?: D;
}

/** `{ loss, crossEntropy, bonus }` of the plain API, reduced alike. */
export interface PlainLossComponents<D extends FloatArray = FloatArray> {
  loss: FloatTensor<D>;
  crossEntropy: FloatTensor<D>;
  bonus: FloatTensor<D>;
}

interface Prepared {
  logits: FloatArray;
  shape: number[];
  classCount: number;
  targets: TargetsInput;
  targetType: 'indices' | 'probabilities';
  options: ResolvedEncouragingLossOptions;
  float32: boolean;
}

function floatData(input: { data: unknown; shape: readonly number[] }, name: string): FloatArray {
  const { data } = input;
  if (data instanceof Float64Array || data instanceof Float32Array) return data;
  if (Array.isArray(data)) return Float64Array.from(data as number[]);
  throw new EncouragingLossError(
    'INVALID_DTYPE',
    `${name} data must be a Float32Array, Float64Array or number[], got ${describe(data)}.`,
  );
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return (value as object).constructor?.name ?? typeof value;
}

function checkTensor(
  input: unknown,
  name: string,
): asserts input is { data: ArrayLike<unknown>; shape: number[] } {
  const t = input as { data?: unknown; shape?: unknown } | null;
  if (t === null || typeof t !== 'object' || !Array.isArray(t.shape) || t.data === undefined) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `${name} must be { data, shape }, got ${describe(input)}.`,
    );
  }
  const size = (t.shape as number[]).reduce((a, b) => a * b, 1);
  if ((t.data as ArrayLike<unknown>).length !== size) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `${name} has ${(t.data as ArrayLike<unknown>).length} values but shape [${t.shape.join(', ')}] holds ${size}.`,
    );
  }
}

/** Which fused kernel runs logits with class indices: `'auto'` prefers WebAssembly SIMD, `'js'` pins the fallback. */
export type KernelChoice = 'auto' | 'js';

function wasmEligible(targetType: string, options: ResolvedEncouragingLossOptions): boolean {
  return targetType === 'indices' && options.input === 'logits' && wasmKernel() !== undefined;
}

function prepare(
  logitsInput: LogitsInput,
  targets: TargetsInput,
  options: EncouragingLossOptions | undefined,
  kernel: KernelChoice = 'auto',
): Prepared {
  checkTensor(logitsInput, 'Logits');
  checkTensor(targets, 'Targets');
  const shape = [...logitsInput.shape];
  const targetType = targets.shape.length === shape.length ? 'probabilities' : 'indices';
  const classCount = checkShapes(shape, targets.shape, targetType);
  const resolved = resolveOptions(options, classCount);
  const logits = floatData(logitsInput, 'Logits');
  // The WASM kernel finds non-finite logits in its max pass: the full check runs only if it flags a row.
  const deferFinite = kernel === 'auto' && wasmEligible(targetType, resolved);
  if (resolved.checkFinite && !deferFinite) checkFiniteValues(logits, shape, resolved.input);
  if (targetType === 'indices') {
    const data = targets.data;
    if (data instanceof Float32Array || data instanceof Float64Array) {
      throw new EncouragingLossError(
        'INVALID_DTYPE',
        `Integer targets must be an Int32Array, BigInt64Array or number[], got ${describe(data)} (soft targets have the logits' shape).`,
      );
    }
    checkTargetIndices(data, targets.shape, classCount, resolved.ignoreIndex);
  } else {
    if (data64(targets.data) === undefined) {
      throw new EncouragingLossError(
        'INVALID_DTYPE',
        `Soft targets must be a Float32Array, Float64Array or number[], got ${describe(targets.data)}.`,
      );
    }
    checkFiniteValues(data64(targets.data)!, targets.shape, 'soft targets');
  }
  return {
    logits,
    shape,
    classCount,
    targets,
    targetType,
    options: resolved,
    float32: logits instanceof Float32Array,
  };
}

function checkGradOut(out: unknown, logits: FloatArray, shape: readonly number[]): FloatArray {
  const float32 = logits instanceof Float32Array;
  const expected = float32 ? 'Float32Array' : 'Float64Array';
  if (!(out instanceof (float32 ? Float32Array : Float64Array))) {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `Option out must be a ${expected} (the logits' float type), got ${describe(out)}.`,
    );
  }
  if (out.length !== logits.length) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Option out has length ${out.length}, expected ${logits.length} (logits of shape [${shape.join(', ')}]).`,
    );
  }
  // The logits themselves are fine (in place); any other overlap would mix logits and gradient rows.
  const start = out.byteOffset;
  const end = start + out.byteLength;
  if (
    out.buffer === logits.buffer &&
    start !== logits.byteOffset &&
    start < logits.byteOffset + logits.byteLength &&
    logits.byteOffset < end
  ) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option out overlaps the logits at an offset (bytes ${start}–${end} against ${logits.byteOffset}–${logits.byteOffset + logits.byteLength} of one buffer); pass the logits' own array for an in-place gradient, or a separate buffer.`,
    );
  }
  return out;
}

function data64(data: TargetsInput['data']): FloatArray | undefined {
  if (data instanceof Float32Array || data instanceof Float64Array) return data;
  if (Array.isArray(data)) return Float64Array.from(data as number[]);
  return undefined;
}

function toOutput(values: ArrayLike<number>, shape: number[], float32: boolean): FloatTensor {
  return { data: float32 ? Float32Array.from(values) : Float64Array.from(values), shape };
}

const composedTypedArray = createEncouragingLoss(typedArrayOps);

function composedInputs(p: Prepared): [ArrayTensor, ArrayTensor] {
  const dtype = p.float32 ? 'float32' : 'float64';
  const logits = arrayTensor(p.logits, p.shape, dtype);
  const targets =
    p.targetType === 'indices'
      ? arrayTensor(
          Array.from(p.targets.data as ArrayLike<number | bigint>, Number),
          p.targets.shape,
          'int32',
        )
      : arrayTensor(data64(p.targets.data)!, p.targets.shape, dtype);
  return [logits, targets];
}

function run(p: Prepared, withGrad: boolean, kernel: KernelChoice = 'auto', gradOut?: FloatArray) {
  const lossShape = p.options.reduction === 'none' ? p.shape.slice(0, -1) : [];
  if (p.targetType === 'indices' && p.options.input === 'logits') {
    const args = [
      p.logits,
      p.targets.data as ArrayLike<number | bigint>,
      p.classCount,
      p.options,
      withGrad,
    ] as const;
    const onNonFinite = () => {
      if (p.options.checkFinite) checkFiniteValues(p.logits, p.shape, p.options.input);
    };
    const out =
      (kernel === 'auto' && wasmEligible(p.targetType, p.options)
        ? wasmEncouragingLoss(...args, onNonFinite, gradOut)
        : undefined) ?? fusedEncouragingLoss(...args, gradOut);
    return {
      loss: toOutput(out.loss, lossShape, p.float32),
      crossEntropy: toOutput(out.crossEntropy, lossShape, p.float32),
      bonus: toOutput(out.bonus, lossShape, p.float32),
      grad: out.grad ? { data: out.grad, shape: [...p.shape] } : undefined,
    };
  }
  // Other inputs and soft targets run the composed math over the typed-array TensorOps.
  const [logits, targets] = composedInputs(p);
  const options = { ...p.options, classWeights: p.options.classWeights, targetType: p.targetType };
  const parts = composedTypedArray.encouragingLossComponents(logits, targets, options);
  const grad = withGrad
    ? composedTypedArray.encouragingLossWithGrad(logits, targets, options).grad
    : undefined;
  let gradTensor: FloatTensor | undefined;
  if (grad && gradOut) {
    gradOut.set(grad.data);
    gradTensor = { data: gradOut, shape: [...p.shape] };
  } else if (grad) {
    gradTensor = toOutput(grad.data, [...p.shape], p.float32);
  }
  return {
    loss: toOutput(parts.loss.data, lossShape, p.float32),
    crossEntropy: toOutput(parts.crossEntropy.data, lossShape, p.float32),
    bonus: toOutput(parts.bonus.data, lossShape, p.float32),
    grad: gradTensor,
  };
}

/**
 * Encouraging Loss (EL) / Conservative EL (CEL) of a batch of logits.
 *
 * Per example, with p = softmax(z) and q = (1 − ε)·onehot(y) + ε/K:
 * ℓ = Σ_k q_k · (−log p_k + ρ · b(p_k)),  b(p) = log(1 − p) for p ≤ logEnd, else its tangent at logEnd
 * (Zhao et al., AAAI 2022, Eq. 2 and the conservative bonus of Sec. 3.2).
 *
 * @param logits - `[...B, K]`, K ≥ 2 (e.g. `[N, K]`, or `[B, T, V]` for translation).
 * @param targets - class indices `[...B]` (Int32Array, BigInt64Array or number[]), or soft targets `[...B, K]`.
 * @param options - see {@link EncouragingLossOptions}; defaults: logEnd 0.75, bonusWeight 1, mean reduction.
 * @returns the loss: shape `[]` for `'mean'`/`'sum'`, `[...B]` for `'none'`; Float32Array for Float32Array logits.
 * @throws EncouragingLossError for bad shapes, options, targets or non-finite logits.
 *
 * @example
 * ```ts
 * const logits = { data: new Float32Array([2, 0.5, -1, 0.1, 3, 0.2]), shape: [2, 3] };
 * const targets = { data: new Int32Array([0, 1]), shape: [2] };
 * const { data: [loss] } = encouragingLoss(logits, targets, { logEnd: 0.5 });
 * ```
 */
export function encouragingLoss<L extends LogitsInput>(
  logits: L,
  targets: TargetsInput,
  options?: EncouragingLossOptions,
): FloatTensor<OutputOf<L>> {
  return run(prepare(logits, targets, options), false).loss as FloatTensor<OutputOf<L>>;
}

/**
 * The loss and its exact gradient with respect to the first input, in closed form (no autodiff): for logits,
 * ∂ℓ/∂z_j = (p_j − δ_jy)(1 + ρ p_y β(p_y)) with β = 1/(1 − p_y) on the log part and 1/(1 − logEnd) on the tangent
 * (ε = 0), so EL's target gradient is −1 at any margin. Runs the fused typed-array kernel for logits with class
 * indices: one exp per element, the gradient buffer the only allocation proportional to N·K (none with `out`).
 *
 * @param options - {@link EncouragingLossWithGradOptions}: the loss options and `out`, a gradient buffer to reuse.
 * @returns `{ loss, grad }`, grad of the input's shape (`grad.data === options.out` when given); the gradient of
 *   the sum of per-example losses for `'none'`.
 *
 * @example
 * ```ts
 * const { loss, grad } = encouragingLossWithGrad(logits, targets, { logEnd: 1 }); // plain EL
 * // A training loop: one gradient buffer for every step.
 * const out = new Float32Array(logits.data.length);
 * for (const batch of batches) encouragingLossWithGrad(batch.logits, batch.targets, { logEnd: 0.75, out });
 * ```
 */
export function encouragingLossWithGrad<L extends LogitsInput>(
  logits: L,
  targets: TargetsInput,
  options?: EncouragingLossWithGradOptions<OutputOf<L>>,
): PlainLossWithGrad<OutputOf<L>> {
  return defaultKernel.encouragingLossWithGrad(logits, targets, options);
}

/**
 * The loss with its two parts, reduced alike: `loss = crossEntropy + bonusWeight · bonus`. EL/CEL losses are
 * negative in normal training; log `crossEntropy` (the NLL) to follow the fit and compute perplexity.
 */
export function encouragingLossComponents<L extends LogitsInput>(
  logits: L,
  targets: TargetsInput,
  options?: EncouragingLossOptions,
): PlainLossComponents<OutputOf<L>> {
  return defaultKernel.encouragingLossComponents(logits, targets, options);
}

function prepareSigmoid(
  logitsInput: LogitsInput,
  targets: TargetsInput,
  options?: SigmoidEncouragingLossOptions,
) {
  checkTensor(logitsInput, 'Logits');
  checkTensor(targets, 'Targets');
  const resolved = resolveSigmoidOptions(options);
  const shape = [...logitsInput.shape];
  if (targets.shape.length !== shape.length || targets.shape.some((s, i) => s !== shape[i])) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Multi-label targets of shape [${targets.shape.join(', ')}] must have the logits' shape [${shape.join(', ')}].`,
    );
  }
  const logits = floatData(logitsInput, 'Logits');
  if (resolved.checkFinite) checkFiniteValues(logits, shape, 'logits');
  const labels = Array.from(targets.data as ArrayLike<number | bigint>, Number);
  labels.forEach((t, i) => {
    if (t !== 0 && t !== 1 && t !== resolved.ignoreIndex) {
      throw new EncouragingLossError(
        'INVALID_TARGET',
        `Multi-label target ${t} at index ${i} must be 0, 1 or ignoreIndex (${resolved.ignoreIndex}).`,
      );
    }
  });
  const float32 = logits instanceof Float32Array;
  const dtype = float32 ? 'float32' : 'float64';
  return {
    logits: arrayTensor(logits, shape, dtype),
    targets: arrayTensor(labels, shape, dtype),
    resolved,
    float32,
    shape,
  };
}

/**
 * Multi-label Encouraging Loss (the official detection code's sigmoid variant): per element, binary
 * cross-entropy with logits plus ρ·w·b(p_t), p_t the probability of the true label, w = positiveWeight or
 * negativeWeight; log(1 − p_t) = −softplus(x_t) is exact at any margin.
 *
 * @param logits - any shape; @param targets - 0, 1 or `ignoreIndex`, same shape.
 * @returns `[]` for `'mean'` (over kept elements) / `'sum'`, the logits' shape for `'none'`.
 */
export function sigmoidEncouragingLoss(
  logits: LogitsInput,
  targets: TargetsInput,
  options?: SigmoidEncouragingLossOptions,
): FloatTensor {
  const p = prepareSigmoid(logits, targets, options);
  const loss = composedTypedArray.sigmoidEncouragingLoss(p.logits, p.targets, p.resolved);
  return toOutput(loss.data, [...loss.shape], p.float32);
}

/** {@link sigmoidEncouragingLoss} with its gradient with respect to the logits. */
export function sigmoidEncouragingLossWithGrad(
  logits: LogitsInput,
  targets: TargetsInput,
  options?: SigmoidEncouragingLossOptions,
): PlainLossWithGrad {
  const p = prepareSigmoid(logits, targets, options);
  const out = composedTypedArray.sigmoidEncouragingLossWithGrad(p.logits, p.targets, p.resolved);
  return {
    loss: toOutput(out.loss.data, [...out.loss.shape], p.float32),
    grad: toOutput(out.grad.data, p.shape, p.float32),
  };
}

/**
 * The plain API with the fused kernel pinned (internal, not exported from the package index): the conformance
 * suite runs the pure-JS fallback through it as well as the default.
 */
export function withKernel(kernel: KernelChoice) {
  return {
    encouragingLossWithGrad<L extends LogitsInput>(
      logits: L,
      targets: TargetsInput,
      options?: EncouragingLossWithGradOptions<OutputOf<L>>,
    ): PlainLossWithGrad<OutputOf<L>> {
      const prepared = prepare(logits, targets, options, kernel);
      const gradOut =
        options?.out === undefined ? undefined : checkGradOut(options.out, prepared.logits, prepared.shape);
      const out = run(prepared, true, kernel, gradOut);
      return { loss: out.loss, grad: out.grad! } as PlainLossWithGrad<OutputOf<L>>;
    },
    encouragingLossComponents<L extends LogitsInput>(
      logits: L,
      targets: TargetsInput,
      options?: EncouragingLossOptions,
    ): PlainLossComponents<OutputOf<L>> {
      const out = run(prepare(logits, targets, options, kernel), false, kernel);
      return { loss: out.loss, crossEntropy: out.crossEntropy, bonus: out.bonus } as PlainLossComponents<
        OutputOf<L>
      >;
    },
  };
}

/** The default: WebAssembly SIMD where available, the JS kernel otherwise. */
const defaultKernel = withKernel('auto');
