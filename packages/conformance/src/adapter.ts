import type {
  EncouragingLossOptions,
  SigmoidEncouragingLossOptions,
  TensorOps,
} from '@encouraging-loss/core';

/** A tensor as the suite hands it over and reads it back: row-major values and a shape. */
export interface ConformanceTensor {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/** One softmax case: inputs, options and how to read the targets. */
export interface ConformanceCase {
  /** Logits (or log-probabilities / probabilities, per `options.input`), already rounded to the adapter's precision. */
  logits: { data: Float64Array; shape: number[] };
  /** Integer class indices `[...B]` (`targetType: 'indices'`) or soft targets `[...B, K]`. */
  targets: { data: Int32Array | Float64Array; shape: number[] };
  targetType: 'indices' | 'probabilities';
  options: EncouragingLossOptions;
}

/** One multi-label case for the sigmoid variant: targets are 0, 1 or `ignoreIndex`, of the logits' shape. */
export interface SigmoidConformanceCase {
  logits: { data: Float64Array; shape: number[] };
  targets: { data: Float64Array; shape: number[] };
  options: SigmoidEncouragingLossOptions;
}

type MaybePromise<T> = T | Promise<T>;

/** Direct access to a backend's `TensorOps`, so the suite can check fused overrides against the composed math. */
export interface OpsHarness<T> {
  ops: TensorOps<T>;
  /** Makes a backend tensor: `'float'` in the backend's float dtype, `'int'` int32 (or int64), `'bool'` a mask. */
  fromArray(data: ArrayLike<number>, shape: readonly number[], kind: 'float' | 'int' | 'bool'): T;
  /** Reads a backend tensor back. */
  toArray(tensor: T): MaybePromise<ConformanceTensor>;
}

/**
 * What a backend gives `describeConformance`. Only `name`, `precision` and `lossWithGrad` are required; every
 * optional member adds the cases that exercise it.
 */
export interface ConformanceAdapter<T = unknown> {
  /** Title of the `describe` block. */
  name: string;
  /** The float dtype the backend computes in; selects the tolerances. */
  precision: 'float32' | 'float64';
  /** The reduced loss and the gradient w.r.t. the first input (the gradient of the sum for `'none'`). */
  lossWithGrad(testCase: ConformanceCase): MaybePromise<{ loss: ConformanceTensor; grad: ConformanceTensor }>;
  /** The loss alone (defaults to `lossWithGrad(...).loss`); adapters whose forward differs should give it. */
  loss?(testCase: ConformanceCase): MaybePromise<ConformanceTensor>;
  /** `{ loss, crossEntropy, bonus }`, reduced alike. */
  components?(
    testCase: ConformanceCase,
  ): MaybePromise<{ loss: ConformanceTensor; crossEntropy: ConformanceTensor; bonus: ConformanceTensor }>;
  /** The multi-label variant. */
  sigmoidLossWithGrad?(
    testCase: SigmoidConformanceCase,
  ): MaybePromise<{ loss: ConformanceTensor; grad: ConformanceTensor }>;
  /** The backend's ops, to check each fused override against the composed version. */
  ops?: OpsHarness<T>;
  /**
   * Cases expected to fail, by full test title (as printed by vitest, without the adapter name), each with the
   * reason. The list is strict: a listed case that passes fails the run, so the list only shrinks.
   */
  expectedFailures?: Readonly<Record<string, string>>;
  /** Per-test timeout in ms (default 120 000: generous, so a busy machine slows the suite down but never fails it). */
  timeout?: number;
}
