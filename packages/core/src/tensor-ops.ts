/**
 * The versioned backend contract. The loss and its gradient are written once, in core, over these primitives;
 * a backend (typed arrays, tfjs, an ONNX graph builder) maps them onto its own tensors.
 *
 * Rules every implementation follows:
 * - Synchronous, no global state, no side effects on import. A tracing backend (ONNX) returns symbolic values.
 * - Elementwise binary ops broadcast with NumPy rules. Core only ever combines shapes `[...B, K]`,
 *   `[...B, 1]`, `[K]` and `[]`.
 * - Float tensors are of one float dtype per call (the logits' dtype); masks are booleans; targets are integer
 *   tensors of the batch shape `[...B]`.
 * - "Last axis" reductions keep the axis: `[...B, K] → [...B, 1]`.
 *
 * Composites (log-sum-exp, log-softmax, softplus, log1p) are built in core from these primitives. A backend may
 * offer a fused override (an optional member); core prefers it, and `describeConformance` checks it against
 * the composed version.
 *
 * A breaking change to this contract adds `TensorOpsV2` beside `TensorOpsV1`; `specificationVersion` tells them
 * apart at run time.
 *
 * @typeParam T - the backend's tensor type.
 */
export interface TensorOpsV1<T> {
  /** Always `'v1'` for this contract. */
  readonly specificationVersion: 'v1';
  /** A short backend name for messages and test titles (`'typed-array'`, `'tfjs-wasm'`, `'onnx-graph'`). */
  readonly name: string;

  /** A float scalar `[]` holding `value`, in the float dtype of `like`. */
  scalar(value: number, like: T): T;
  /** An integer scalar `[]` holding `value`, in the integer dtype of `like` (used to compare targets). */
  intScalar(value: number, like: T): T;
  /** A float vector `[values.length]` in the float dtype of `like` (class weights). */
  vector(values: ArrayLike<number>, like: T): T;

  /** a + b, broadcasting. */
  add(a: T, b: T): T;
  /** a − b, broadcasting. */
  sub(a: T, b: T): T;
  /** a · b, broadcasting. */
  mul(a: T, b: T): T;
  /** a / b, broadcasting. */
  div(a: T, b: T): T;
  /** max(a, b) elementwise, broadcasting. */
  maximum(a: T, b: T): T;
  /** −x. */
  neg(x: T): T;
  /** |x|. */
  abs(x: T): T;
  /** eˣ. */
  exp(x: T): T;
  /** ln x. */
  log(x: T): T;

  /** Boolean mask a > b, broadcasting. */
  greater(a: T, b: T): T;
  /** Boolean mask a = b, broadcasting (floats or integers, both operands of one dtype). */
  equal(a: T, b: T): T;
  /** Boolean mask a ∧ b. */
  logicalAnd(a: T, b: T): T;
  /** Boolean mask ¬x. */
  logicalNot(x: T): T;
  /** condition ? a : b, broadcasting all three. Values of the unselected side never propagate. */
  where(condition: T, a: T, b: T): T;
  /** A boolean mask as 0/1 in the float dtype of `like`. */
  castLike(mask: T, like: T): T;

  /** Maximum along the last axis, kept: `[...B, K] → [...B, 1]`. */
  maxLastAxis(x: T): T;
  /**
   * Sum along the last axis, kept: `[...B, K] → [...B, 1]`, accurate to the dtype's precision even over
   * K = 32 000 classes. `'bounded'`: the caller tolerates plain accumulation in the dtype (absolute error up to
   * (K − 1)·u·Σ|x|); core passes it only for a bounded sum that reaches the loss scaled by ε/K.
   * `'nonNegative'`: every element is ≥ 0, so the sum cannot cancel and partial sums of a few elements in the
   * dtype (relative error ≤ (B − 1)·u for blocks of B) are accurate. A backend may ignore either.
   */
  sumLastAxis(x: T, precision?: 'bounded' | 'nonNegative'): T;
  /** Sum of every element: `→ []`. */
  sumAll(x: T): T;
  /** Appends an axis of size 1: `[...B] → [...B, 1]`. */
  expandLastAxis(x: T): T;
  /** Drops a last axis of size 1: `[...B, 1] → [...B]`. */
  squeezeLastAxis(x: T): T;
  /**
   * Boolean one-hot mask `[...B, K]` of integer `indices` `[...B]`, K taken from `like` `[...B, K]`.
   * An index outside `[0, K)` (such as `ignoreIndex`) gives a row of `false`.
   */
  oneHot(indices: T, like: T): T;
  /** The size K of the last axis of `like`, as a float scalar `[]` of its dtype. */
  lastAxisSize(like: T): T;

  /** Optional fused ln(1 + x); composed as `log(add(1, x))` (absolute error ~ machine epsilon) when absent. */
  log1p?(x: T): T;
  /**
   * Optional index of each row's largest element (the first on a tie) as integer indices of the batch shape
   * `[...B]`, of the dtype `oneHot` and `equal` take with targets. Core uses it for label smoothing with
   * logEnd > 0.9 (a softmax over the other classes); without it that case runs the general path.
   */
  argMaxLastAxis?(x: T): T;
  /** Optional fused log-sum-exp along the last axis, kept: `[...B, K] → [...B, 1]`. */
  logSumExp?(x: T): T;
  /** Optional fused log-softmax along the last axis. */
  logSoftmax?(x: T): T;
  /**
   * Optional fused softmax along the last axis; composed as e^{x − max} / Σ e^{x − max} when absent. Core reads
   * the row's Σ e^{x − max} back as 1 / max(softmax(x)) (the largest entry is e⁰ / Σ).
   */
  softmax?(x: T): T;
  /**
   * Optional Σ_k ln x_k along the last axis, kept: `[...B, K] → [...B, 1]`; composed as
   * `sumLastAxis(log(x))` when absent. Core calls it only with x_k ∈ [1/10, 1] and Σ_k (1 − x_k) ≤ 1, so a row's
   * product is at least 1/13 and `log(∏_k x_k)` (one multiply per element instead of a log) is a valid fused form.
   */
  sumLogLastAxis?(x: T): T;

  /**
   * Optional lifetime scope: runs `fn`, frees every intermediate it created except the tensors it returns
   * (tfjs `tidy`). Core wraps each call in it.
   */
  scope?<R>(fn: () => R): R;
}

/** The current contract. */
export type TensorOps<T> = TensorOpsV1<T>;
