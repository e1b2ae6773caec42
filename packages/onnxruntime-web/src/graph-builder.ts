import type { TensorOpsV1 } from '@encouraging-loss/core';
import {
  type AttributeMessage,
  AttributeType,
  DataType,
  encodeModel,
  type GraphMessage,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnx-proto.js';

/** Element type of a {@link GraphValue}. */
export type GraphDType = 'float32' | 'int64' | 'bool';

/**
 * What a value's shape is, relative to the logits `[...B, K]`: `scalar` `[]`, `vector` `[K]`, `batch` `[...B]`,
 * `row` `[...B, 1]`, `full` `[...B, K]`, or `unknown`. Lets the builder drop identities only where the shape
 * stays the same.
 */
export type Extent = 'scalar' | 'vector' | 'batch' | 'row' | 'full' | 'unknown';

/** A symbolic tensor: the name of a value in the graph being recorded. */
export interface GraphValue {
  readonly name: string;
  readonly dtype: GraphDType;
  readonly extent: Extent;
  /** The value of a constant scalar (already rounded to its dtype). */
  readonly constant?: number;
  /** At most one nonzero (or true) element per row of the last axis (a one-hot mask and what it selects). */
  readonly oneNonzeroPerRow?: boolean;
  /** For a one-hot mask: the class indices `[...B]` it was made from, and the logits it is shaped like. */
  readonly oneHotIndices?: GraphValue;
  readonly oneHotLike?: GraphValue;
  /** `where(oneHot, value, 0)` or `where(oneHot, constant, value)`: the one-hot mask and the other operand. */
  readonly selects?: { oneHot: GraphValue; value: GraphValue; kind: 'target' | 'others'; fill?: number };
  /** A product `full · factor` of a full tensor and a row or scalar. */
  readonly product?: { full: GraphValue; factor: GraphValue };
  /** A ScatterElements result: `base` with `written` `[...B, 1]` at `index` along the last axis. */
  readonly scatter?: { base: GraphValue; index: GraphValue; written: GraphValue };
  /** A difference `full − row` of a full tensor and a row: gathered and summed without forming it. */
  readonly difference?: { full: GraphValue; row: GraphValue };
  /** Row argmax indices `[...B]` of `of` (from its TopK(2)), with the runner-up's index `[...B, 1]`. */
  readonly argMax?: { of: GraphValue; runnerUp: GraphValue };
  /** `Softmax(x)` along the last axis: x. */
  readonly softmaxOf?: GraphValue;
  /** Every element is ≥ 0 (Exp, Softmax) or ≤ 0 (x minus its row maximum): its row sums cannot cancel. */
  readonly sign?: 'nonNegative' | 'nonPositive';
  /** A row `[...B, 1]` holding the row maximum of this full value (x minus it has one sign). */
  readonly rowMaxOf?: GraphValue;
}

/** A node as recorded (the builder's own form, serialized by {@link GraphBuilder.toGraph}). */
export interface RecordedNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeMessage[];
}

/** Options of a {@link GraphBuilder}. */
export interface GraphBuilderOptions {
  /** The `ai.onnx` opset the nodes are written for (13 or later; ReduceMax takes `axes` as an input from 18). */
  opset?: number;
  /** Prefix of every value, node and initializer name, so a recorded graph can join another without clashes. */
  prefix?: string;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** Elementwise ops whose 0-d operands are reshaped to the rows' rank when they meet a row (see rowShaped). */
const ROW_BROADCASTING = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Max',
  'Min',
  'Where',
  'Greater',
  'Less',
  'Equal',
  'GreaterOrEqual',
  'And',
  'Or',
]);

/** Classes per float32 partial sum of {@link GraphBuilder.blockedSum} (a power of two). */
const SUM_BLOCK = 16;

function broadcastExtent(a: Extent, b: Extent): Extent {
  if (a === b) return a;
  if (a === 'scalar') return b;
  if (b === 'scalar') return a;
  const pair = new Set([a, b]);
  if (pair.has('unknown') || pair.has('batch')) return 'unknown';
  return 'full'; // row ⊕ full, vector ⊕ full, row ⊕ vector
}

const elementType: Record<GraphDType, number> = {
  float32: DataType.FLOAT,
  int64: DataType.INT64,
  bool: DataType.BOOL,
};

/**
 * Records standard `ai.onnx` nodes. {@link GraphBuilder.ops} implements the core's `TensorOps` over
 * {@link GraphValue}s: running `createEncouragingLoss(builder.ops)` traces the loss and its gradient into the
 * graph instead of computing them.
 *
 * What it records is the same math, cheaper: identical nodes and constants are recorded once, constant scalars
 * folded, `x·1`, `x+0`, `where(c, x, x)` dropped; a one-hot mask is never materialised where its uses allow —
 * `sumLastAxis(where(oneHot, x, 0))` is a GatherElements, `maxLastAxis(where(oneHot, c, x))` a TopK, and
 * `where(oneHot, a, b)` a ScatterElements into `b`, with elementwise ops moved inside scatters; other float32 sums
 * accumulate in float64; `sumLogLastAxis` is a ReduceProd. Every rewrite gives the same values (or better-rounded
 * sums).
 *
 * @example
 * ```ts
 * const builder = new GraphBuilder();
 * const logits = builder.input('logits', 'float32', 'full'); // [...B, K]
 * const targets = builder.input('targets', 'int64', 'batch'); // [...B]
 * const { loss, grad } = createEncouragingLoss(builder.ops).encouragingLossWithGrad(logits, targets);
 * const model = builder.toModel('el', [logits, targets], [builder.output(loss, 'loss'), builder.output(grad, 'grad')]);
 * ```
 */
export class GraphBuilder {
  /** The `ai.onnx` opset version the nodes target. */
  readonly opset: number;
  readonly prefix: string;
  readonly nodes: RecordedNode[] = [];
  readonly initializers: TensorMessage[] = [];
  private readonly renames: RecordedNode[] = [];
  private readonly seen = new Map<string, GraphValue>();
  private counter = 0;
  /** The first full-extent input: every row `[...B, 1]` has its rank. */
  private fullReference?: GraphValue;
  /** The argmax `[...B, 1]` recorded with a {@link GraphBuilder.rowMax}, by the name of the full value. */
  private readonly rowArgMax = new Map<string, GraphValue>();

  constructor(options: GraphBuilderOptions = {}) {
    this.opset = options.opset ?? 17;
    this.prefix = options.prefix ?? '';
  }

  /** Declares a graph input. */
  input(name: string, dtype: GraphDType, extent: Extent): GraphValue {
    return this.declare({ name, dtype, extent });
  }

  /** An existing value of the graph (e.g. an output of a user's model). */
  existing(name: string, dtype: GraphDType, extent: Extent): GraphValue {
    return this.declare({ name, dtype, extent });
  }

  private declare(value: GraphValue): GraphValue {
    if (value.extent === 'full' && !this.fullReference) this.fullReference = value;
    return value;
  }

  /** A constant scalar (deduplicated). Float32 constants beyond ±FLT_MAX are clamped to it, not to ±∞. */
  scalar(value: number, dtype: GraphDType): GraphValue {
    const stored =
      dtype === 'float32' ? Math.fround(Math.max(-FLOAT32_MAX, Math.min(FLOAT32_MAX, value))) : value;
    return this.constant(dtype, [], [stored], stored);
  }

  /** A constant tensor (deduplicated). */
  constant(dtype: GraphDType, dims: number[], values: ArrayLike<number>, scalarValue?: number): GraphValue {
    const key = `const|${dtype}|${dims.join('x')}|${Array.from(values, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    const hit = this.seen.get(key);
    if (hit) return hit;
    const name = this.fresh('c');
    let raw: Uint8Array;
    if (dtype === 'float32') raw = new Uint8Array(Float32Array.from(values).buffer);
    else if (dtype === 'int64') raw = new Uint8Array(BigInt64Array.from(Array.from(values, BigInt)).buffer);
    else raw = Uint8Array.from(values);
    this.initializers.push({ name, dims, dataType: elementType[dtype], rawData: raw });
    const extent: Extent = dims.length === 0 ? 'scalar' : 'unknown';
    const value: GraphValue =
      scalarValue === undefined ? { name, dtype, extent } : { name, dtype, extent, constant: scalarValue };
    this.seen.set(key, value);
    return value;
  }

  /** An int64 vector constant (axes, shapes). */
  ints(values: number[]): GraphValue {
    return this.constant('int64', [values.length], values);
  }

  /** Records one node with one output (deduplicated: the same op on the same inputs is recorded once). */
  node(
    opType: string,
    inputs: readonly GraphValue[],
    dtype: GraphDType,
    extent: Extent,
    attributes: Record<string, number | number[] | string | { float: number }> = {},
    outputCount = 1,
  ): GraphValue {
    if (ROW_BROADCASTING.has(opType) && inputs.some((v) => v.extent === 'row')) {
      inputs = inputs.map((v) => (v.extent === 'scalar' ? this.rowShaped(v) : v));
    }
    const key = `${opType}|${inputs.map((v) => v.name).join(',')}|${JSON.stringify(attributes)}`;
    const hit = this.seen.get(key);
    if (hit) return hit;
    const name = this.fresh('v');
    this.nodes.push({
      opType,
      inputs: inputs.map((v) => v.name),
      // Extra outputs (TopK's indices) get derived names `${name}_1`, ….
      outputs: [name, ...Array.from({ length: outputCount - 1 }, (_, i) => `${name}_${i + 1}`)],
      attributes: Object.entries(attributes).map(([attribute, v]) =>
        Array.isArray(v)
          ? { name: attribute, type: AttributeType.INTS, ints: v }
          : typeof v === 'number'
            ? { name: attribute, type: AttributeType.INT, i: v }
            : typeof v === 'string'
              ? { name: attribute, type: AttributeType.STRING, s: new TextEncoder().encode(v) }
              : { name: attribute, type: AttributeType.FLOAT, f: v.float },
      ),
    });
    const value: GraphValue = { name, dtype, extent };
    this.seen.set(key, value);
    return value;
  }

  /**
   * A 0-d value reshaped to `[1, …, 1]` of the rows' rank. ORT's CPU kernels broadcast `[N, 1]` against a 0-d tensor
   * one single-element span at a time (~20 ns per row: 86 µs per op at N = 4096), against `[1, 1]` as a plain
   * scalar loop (~30× faster); the graphs have about a hundred such row ops.
   */
  private rowShaped(value: GraphValue): GraphValue {
    const reference = this.fullReference;
    if (!reference) return value;
    const shape = this.node('Shape', [reference], 'int64', 'unknown');
    const ones = this.node(
      'Add',
      [this.node('Mul', [shape, this.scalar(0, 'int64')], 'int64', 'unknown'), this.scalar(1, 'int64')],
      'int64',
      'unknown',
    );
    return this.node('Reshape', [value, ones], value.dtype, 'unknown');
  }

  /** Names `value` as a graph output (an Identity node when the value already has another name). */
  output(value: GraphValue, name: string): GraphValue {
    if (value.name === name) return value;
    this.renames.push({ opType: 'Identity', inputs: [value.name], outputs: [name], attributes: [] });
    return { name, dtype: value.dtype, extent: value.extent };
  }

  /** A reduction over the last axis, kept (`axes` as attribute before opset 18, as input from 18). */
  reduceLastAxis(opType: 'ReduceMax' | 'ReduceSum', x: GraphValue, bounded = false): GraphValue {
    const extent: Extent = x.extent === 'full' ? 'row' : 'unknown';
    if (opType === 'ReduceSum' && x.dtype === 'float32' && !x.oneNonzeroPerRow) {
      // One sign: the blocked sum reads x once and is exact to (B − 1) ulps, bounded or not.
      if (x.sign && x.extent === 'full') return this.blockedSum(x);
      if (!bounded) return this.accurateSum(x, extent, [this.ints([-1])], { keepdims: 1 });
    }
    if (opType === 'ReduceSum') {
      return this.node(opType, [x, this.ints([-1])], x.dtype, extent, { keepdims: 1 });
    }
    if (this.opset >= 18) return this.node(opType, [x, this.ints([-1])], x.dtype, extent, { keepdims: 1 });
    return this.node(opType, [x], x.dtype, extent, { axes: [-1], keepdims: 1 });
  }

  /**
   * Σ_k (x_k − r) = Σ_k x_k − K·r for a full x and a row r, in float64 (Cast, ReduceSum, row ops): one pass
   * over x instead of a Sub and a sum over N·K. Exact where the float32 difference would have rounded.
   */
  sumOfDifference(full: GraphValue, row: GraphValue): GraphValue {
    const double = { to: DataType.DOUBLE };
    const wide = this.node('Cast', [full], 'float32', full.extent, double);
    const sum = this.node('ReduceSum', [wide, this.ints([-1])], 'float32', 'row', { keepdims: 1 });
    const classes = this.node('Cast', [this.lastAxisLength(full)], 'float32', 'scalar', double);
    const offset = this.node(
      'Mul',
      [classes, this.node('Cast', [row], 'float32', row.extent, double)],
      'float32',
      row.extent,
    );
    const difference = this.node('Sub', [sum, offset], 'float32', 'row');
    return this.node('Cast', [difference], 'float32', 'row', { to: DataType.FLOAT });
  }

  /**
   * Σ_k x_k along the last axis, kept, for a full x whose elements all have one sign: float32 sums of blocks of
   * {@link SUM_BLOCK} classes (AveragePool: a read pass, no N·K write), then the blocks' sums in float64. Terms
   * of one sign cannot cancel, so each block's sum is within (B − 1)·u of itself and the row sum within about
   * B·u of its own value, u = 2⁻²⁴ (docs/performance.md). On the wasm EP this costs about one ReduceMax; a Cast
   * to float64 and a ReduceSum over N·K cost three to four times as much.
   */
  blockedSum(x: GraphValue): GraphValue {
    const shape = this.node('Shape', [x], 'int64', 'unknown');
    const classes = this.classCount(x);
    const view = this.node(
      'Reshape',
      [x, this.node('Concat', [this.ints([-1, 1]), classes], 'int64', 'unknown', { axis: 0 })],
      'float32',
      'unknown',
    );
    // Windows of B with stride B, padded with zeros at the ends (SAME_UPPER) and divided by B whatever the
    // padding (count_include_pad), so each output is its block's sum / B: exact, B a power of two.
    const means = this.node('AveragePool', [view], 'float32', 'unknown', {
      kernel_shape: [SUM_BLOCK],
      strides: [SUM_BLOCK],
      auto_pad: 'SAME_UPPER',
      count_include_pad: 1,
    });
    const wide = this.node('Cast', [means], 'float32', 'unknown', { to: DataType.DOUBLE });
    const sum = this.node('ReduceSum', [wide, this.ints([-1])], 'float32', 'unknown', { keepdims: 1 });
    const narrow = this.node(
      'Mul',
      [
        this.node('Cast', [sum], 'float32', 'unknown', { to: DataType.FLOAT }),
        // [1, 1, 1], not 0-d: see rowShaped.
        this.constant('float32', [1, 1, 1], [SUM_BLOCK]),
      ],
      'float32',
      'unknown',
    );
    const rowShape = this.node(
      'Concat',
      [this.node('Slice', [shape, this.ints([0]), this.ints([-1])], 'int64', 'unknown'), this.ints([1])],
      'int64',
      'unknown',
      { axis: 0 },
    );
    return this.node('Reshape', [narrow, rowShape], 'float32', 'row');
  }

  /**
   * ReduceSum of float32 values accumulated in float64. ORT's float32 ReduceSum adds naively: over K = 32 000
   * near-equal terms it is off by ~1e-3 relative, far outside float32 tolerances.
   */
  accurateSum(
    x: GraphValue,
    extent: Extent,
    axes: GraphValue[],
    attributes: Record<string, number>,
  ): GraphValue {
    const wide = this.node('Cast', [x], 'float32', x.extent, { to: DataType.DOUBLE });
    const sum = this.node('ReduceSum', [wide, ...axes], 'float32', extent, attributes);
    return this.node('Cast', [sum], 'float32', extent, { to: DataType.FLOAT });
  }

  /**
   * The value of `x` `[...B, K]` at each row's class index, `[...B, 1]`, and 0 where the index is outside
   * [0, K): `sumLastAxis(where(oneHot, x, 0))` exactly, with GatherElements (O(N)) instead of two passes over
   * N·K.
   */
  atTarget(x: GraphValue, oneHot: GraphValue): { value: GraphValue; valid: GraphValue } {
    const { safe, valid } = this.targetIndex(oneHot);
    const gathered = this.gatherRow(x, safe);
    const value = this.node('Where', [valid, gathered, this.scalar(0, x.dtype)], x.dtype, 'row');
    // At x's own argmax (always in range): the row maximum of x.
    const atMax = oneHot.oneHotIndices?.argMax?.of.name === x.name;
    return { value: atMax ? { ...value, rowMaxOf: x } : value, valid };
  }

  /**
   * Each row's class index as `[...B, 1]` int64, clamped into [0, K) (`safe`), and whether it was in range
   * (`valid`, `[...B, 1]`; ignored rows are not).
   */
  targetIndex(oneHot: GraphValue): { safe: GraphValue; valid: GraphValue } {
    const indices = oneHot.oneHotIndices!;
    const K = this.lastAxisLength(oneHot.oneHotLike!);
    const zero = this.scalar(0, 'int64');
    const inRange = this.node(
      'And',
      [
        this.node('GreaterOrEqual', [indices, zero], 'bool', 'batch'),
        this.node('Less', [indices, K], 'bool', 'batch'),
      ],
      'bool',
      'batch',
    );
    const axes = this.ints([-1]);
    const safe = this.node(
      'Unsqueeze',
      [this.node('Where', [inRange, indices, zero], 'int64', 'batch'), axes],
      'int64',
      'row',
    );
    return { safe, valid: this.node('Unsqueeze', [inRange, axes], 'bool', 'row') };
  }

  /**
   * `where(oneHot, update, base)` for a full `base` `[...B, K]`: a copy of `base` with each row's target element
   * replaced (ScatterElements), instead of materialising the one-hot mask and a broadcasting Where over N·K.
   * Ignored rows write their own value back. `update` may be a scalar, a row `[...B, 1]` or full.
   */
  replaceAtTarget(oneHot: GraphValue, update: GraphValue, base: GraphValue): GraphValue {
    const { safe, valid } = this.targetIndex(oneHot);
    // A scalar update broadcasts against the row in the Where below.
    const row = update.extent === 'full' ? this.gatherRow(update, safe) : update;
    const inner = base.scatter;
    if (inner && inner.index.extent === 'row' && inner.index.name !== safe.name) {
      // A replacement in a copy that already replaced one entry per row: one ScatterElements writes both. Where
      // the two indices meet, both slots carry this (later) value, so the order of the writes does not matter.
      const same = this.node('Equal', [safe, inner.index], 'bool', 'row');
      const original = this.node(
        'Where',
        [same, inner.written, this.gatherRow(inner.base, safe)],
        base.dtype,
        'row',
      );
      const written = this.node('Where', [valid, row, original], base.dtype, 'row');
      const first = this.node('Where', [same, written, inner.written], base.dtype, 'row');
      const indices = this.node('Concat', [inner.index, safe], 'int64', 'unknown', { axis: -1 });
      const updates = this.node('Concat', [first, written], base.dtype, 'unknown', { axis: -1 });
      return this.scatter(inner.base, indices, updates);
    }
    const original = this.gatherRow(base, safe);
    const written = this.node('Where', [valid, row, original], base.dtype, 'row');
    return this.scatter(base, safe, written);
  }

  /**
   * GatherElements of `x` `[...B, K]` at `index` `[...B, 1]`. A product `full · factor` is gathered from its full
   * operand and multiplied on the row, so the product itself need not exist as a tensor.
   */
  gatherRow(x: GraphValue, index: GraphValue): GraphValue {
    if (x.product && x.product.factor.extent !== 'full') {
      const gathered = this.gatherRow(x.product.full, index);
      return this.node('Mul', [gathered, x.product.factor], x.dtype, 'row');
    }
    if (x.difference) {
      const gathered = this.gatherRow(x.difference.full, index);
      return this.node('Sub', [gathered, x.difference.row], x.dtype, 'row');
    }
    return this.node('GatherElements', [x, index], x.dtype, 'row', { axis: -1 });
  }

  /** ScatterElements along the last axis, remembering its parts so elementwise ops can move inside it. */
  scatter(base: GraphValue, index: GraphValue, written: GraphValue): GraphValue {
    const value = this.node('ScatterElements', [base, index, written], base.dtype, 'full', { axis: -1 });
    return { ...value, scatter: { base, index, written } };
  }

  /**
   * `maxLastAxis(where(oneHot, fill, x))`: the largest value of each row other than the target's, from the row's
   * two largest (TopK, one pass) instead of a Where and a ReduceMax over N·K. Exact: max is not rounded.
   */
  maxOfOthers(x: GraphValue, oneHot: GraphValue, fill: number): GraphValue {
    const top = this.topTwo(x);
    const axes = this.ints([-1]);
    const first = this.node('Slice', [top, this.ints([0]), this.ints([1]), axes], x.dtype, 'row');
    const second = this.node('Slice', [top, this.ints([1]), this.ints([2]), axes], x.dtype, 'row');
    const { value, valid } = this.atTarget(x, oneHot);
    // The target holds the row maximum: the largest other value is the second largest (equal to it on a tie).
    const targetIsMax = this.node(
      'And',
      [valid, this.node('Equal', [first, value], 'bool', 'row')],
      'bool',
      'row',
    );
    const others = this.node('Where', [targetIsMax, second, first], x.dtype, 'row');
    return this.node('Max', [others, this.scalar(fill, x.dtype)], x.dtype, 'row');
  }

  /**
   * Each row's index of its largest value (the first on a tie), `[...B]` int64: the indices output of the same
   * TopK(2) that {@link GraphBuilder.maxOfOthers} reads, so the row's largest and runner-up values and the index
   * come from one pass.
   */
  argMax(x: GraphValue): GraphValue {
    const top = this.topTwo(x);
    const indices: GraphValue = { name: `${top.name}_1`, dtype: 'int64', extent: 'unknown' };
    const axes = this.ints([-1]);
    const first = this.node('Slice', [indices, this.ints([0]), this.ints([1]), axes], 'int64', 'row');
    const runnerUp = this.node('Slice', [indices, this.ints([1]), this.ints([2]), axes], 'int64', 'row');
    const index = this.node('Squeeze', [first, axes], 'int64', x.extent === 'full' ? 'batch' : 'unknown');
    return { ...index, argMax: { of: x, runnerUp } };
  }

  /**
   * The row maximum of `Softmax(x)` where x is `where(argmax one-hot of y, fill, y)`: Softmax is monotone, so it
   * sits at y's runner-up (TopK's second index) and is a gather, not a ReduceMax pass. Undefined otherwise.
   */
  softmaxMaxOfOthers(probs: GraphValue): GraphValue | undefined {
    const selects = probs.softmaxOf?.selects;
    const argMax = selects?.oneHot.oneHotIndices?.argMax;
    if (selects?.kind !== 'others' || !argMax || argMax.of.name !== selects.value.name) return undefined;
    return this.node('GatherElements', [probs, argMax.runnerUp], probs.dtype, 'row', { axis: -1 });
  }

  /**
   * The row maximum of a full float32 x from its TopK(2) (one pass, exact like ReduceMax), remembering the
   * index so the maximum of Softmax(x) is a gather; a ReduceMax for anything else.
   */
  rowMax(x: GraphValue): GraphValue {
    if (x.extent !== 'full' || x.dtype !== 'float32') return this.reduceLastAxis('ReduceMax', x);
    const top = this.topTwo(x);
    const axes = this.ints([-1]);
    const first = this.node('Slice', [top, this.ints([0]), this.ints([1]), axes], x.dtype, 'row');
    const indices: GraphValue = { name: `${top.name}_1`, dtype: 'int64', extent: 'unknown' };
    this.rowArgMax.set(
      x.name,
      this.node('Slice', [indices, this.ints([0]), this.ints([1]), axes], 'int64', 'row'),
    );
    return { ...first, rowMaxOf: x };
  }

  /**
   * The row maximum of `Softmax(x)` when x's row maximum came from {@link GraphBuilder.rowMax}: Softmax is
   * monotone, so it sits at x's argmax (a gather, not a ReduceMax pass). Undefined otherwise.
   */
  softmaxMax(probs: GraphValue): GraphValue | undefined {
    const of = probs.softmaxOf;
    if (!of) return undefined;
    const index = this.rowArgMax.get(of.name);
    if (!index) return undefined;
    return this.node('GatherElements', [probs, index], probs.dtype, 'row', { axis: -1 });
  }

  /**
   * TopK(x, min(2, K)) along the last axis, largest first (on a tie the lower index first); recorded once per x.
   * min(2, K): a single class still has its maximum and index (TopK(2) fails on it).
   */
  topTwo(x: GraphValue): GraphValue {
    const k = this.node('Min', [this.classCount(x), this.ints([2])], 'int64', 'unknown');
    return this.node('TopK', [x, k], x.dtype, 'unknown', { axis: -1, largest: 1, sorted: 1 }, 2);
  }

  /** K as an int64 vector `[1]` (Shape, Slice; recorded once per x). */
  private classCount(x: GraphValue): GraphValue {
    const shape = this.node('Shape', [x], 'int64', 'unknown');
    return this.node('Slice', [shape, this.ints([-1]), this.ints([2 ** 62])], 'int64', 'unknown');
  }

  /**
   * `x · scale + bias` for a full x `[...B, K]` and a per-row scale and bias (rows `[...B, 1]` or scalars, at
   * least one a row): one BatchNormalization pass over N·K with the rows as its channels (x viewed as
   * `[1, rows, K]`, mean 0, variance 1, epsilon 0, so it computes x · scale + bias, no other rounding) instead of
   * a Mul and an Add.
   */
  affine(x: GraphValue, scale: GraphValue, bias: GraphValue): GraphValue {
    const flat = this.ints([-1]);
    const channels = this.node(
      'Reshape',
      [scale.extent === 'row' ? scale : bias, flat],
      'float32',
      'unknown',
    );
    const count = this.node('Shape', [channels], 'int64', 'unknown');
    const perChannel = (v: GraphValue) =>
      v.extent === 'row'
        ? this.node('Reshape', [v, flat], 'float32', 'unknown')
        : this.node('Expand', [v, count], 'float32', 'unknown');
    const shape = this.node('Shape', [x], 'int64', 'unknown');
    const classes = this.classCount(x);
    const viewShape = this.node('Concat', [this.ints([1, -1]), classes], 'int64', 'unknown', { axis: 0 });
    const view = this.node('Reshape', [x, viewShape], 'float32', 'unknown');
    const normalized = this.node(
      'BatchNormalization',
      [
        view,
        perChannel(scale),
        perChannel(bias),
        perChannel(this.scalar(0, 'float32')),
        perChannel(this.scalar(1, 'float32')),
      ],
      'float32',
      'unknown',
      { epsilon: { float: 0 } },
    );
    return this.node('Reshape', [normalized, shape], 'float32', 'full');
  }

  /** The size K of the last axis as an int64 scalar. */
  lastAxisLength(like: GraphValue): GraphValue {
    const shape = this.node('Shape', [like], 'int64', 'unknown');
    return this.node('Gather', [shape, this.scalar(-1, 'int64')], 'int64', 'scalar', { axis: 0 });
  }

  /**
   * The recorded graph, pruned to what `outputs` need. Inputs without a declared shape accept any rank;
   * `outputInfo` gives outputs' element types.
   */
  toGraph(name: string, inputs: ValueInfoMessage[], outputs: ValueInfoMessage[]): GraphMessage {
    const { nodes, initializers } = this.prune(outputs.map((o) => o.name));
    return {
      name,
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: outputs,
    };
  }

  /**
   * Serializes the recorded graph as a `ModelProto` (opset {@link GraphBuilder.opset}) with `inputs` and
   * `outputs` as graph inputs and outputs of any rank.
   */
  toModel(name: string, inputs: readonly GraphValue[], outputs: readonly GraphValue[]): Uint8Array {
    const info = (v: GraphValue): ValueInfoMessage => ({
      name: v.name,
      type: { tensorType: { elemType: elementType[v.dtype] } },
    });
    const graph = this.toGraph(name, inputs.map(info), outputs.map(info));
    return encodeModel({
      irVersion: this.opset <= 17 ? 8 : this.opset <= 19 ? 9 : this.opset <= 21 ? 10 : 11,
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: '@encouraging-loss/onnxruntime-web',
      graph,
    });
  }

  /** The nodes and initializers `outputs` depend on, in recording order. */
  prune(outputs: readonly string[]): { nodes: NodeMessage[]; initializers: TensorMessage[] } {
    const all = [...this.nodes, ...this.renames];
    const needed = new Set(outputs);
    const kept: RecordedNode[] = [];
    for (let i = all.length - 1; i >= 0; i--) {
      const node = all[i];
      if (!node.outputs.some((o) => needed.has(o))) continue;
      kept.push(node);
      for (const input of node.inputs) needed.add(input);
    }
    kept.reverse();
    let index = 0;
    const nodes = kept.map((n) => ({
      input: n.inputs,
      output: n.outputs,
      name: `${this.prefix}${n.opType}_${index++}`,
      opType: n.opType,
      domain: '',
      attribute: n.attributes,
    }));
    return { nodes, initializers: this.initializers.filter((t) => needed.has(t.name)) };
  }

  /** The number of nodes `outputs` depend on. */
  nodeCount(outputs: readonly string[]): number {
    return this.prune(outputs).nodes.length;
  }

  private fresh(kind: string): string {
    return `${this.prefix}${kind}${this.counter++}`;
  }

  /** The core's `TensorOps` (v1) over this builder's values. */
  get ops(): TensorOpsV1<GraphValue> {
    return graphOps(this);
  }
}

const opsCache = new WeakMap<GraphBuilder, TensorOpsV1<GraphValue>>();

/** Float32 arithmetic on constant scalars, as ONNX would do it. */
const f32 = Math.fround;

function graphOps(b: GraphBuilder): TensorOpsV1<GraphValue> {
  const cached = opsCache.get(b);
  if (cached) return cached;
  const isConstant = (v: GraphValue, value?: number) =>
    v.constant !== undefined && (value === undefined || v.constant === value);

  const binary = (
    opType: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max',
    fold: (x: number, y: number) => number,
    x: GraphValue,
    y: GraphValue,
  ): GraphValue => {
    if (x.constant !== undefined && y.constant !== undefined && x.dtype === 'float32') {
      return b.scalar(f32(fold(x.constant, y.constant)), 'float32');
    }
    // Identities with a scalar constant keep the other operand's shape exactly.
    if ((opType === 'Add' || opType === 'Sub') && isConstant(y, 0)) return x;
    if (opType === 'Add' && isConstant(x, 0)) return y;
    if ((opType === 'Mul' || opType === 'Div') && isConstant(y, 1)) return x;
    if (opType === 'Mul' && isConstant(x, 1)) return y;
    if (opType === 'Sub' && isConstant(x, 0)) return ops.neg(y);
    // An elementwise op of scatters (same index) or of a scatter and a row/scalar is the scatter of the op:
    // exactly the same values, one N·K copy fewer.
    const small = (v: GraphValue) => v.extent === 'row' || v.extent === 'scalar';
    const xs = x.scatter;
    const ys = y.scatter;
    if (opType !== 'Max' && xs && ys && xs.index.name === ys.index.name) {
      return b.scatter(
        binary(opType, fold, xs.base, ys.base),
        xs.index,
        binary(opType, fold, xs.written, ys.written),
      );
    }
    if (opType !== 'Max' && xs && small(y)) {
      return b.scatter(binary(opType, fold, xs.base, y), xs.index, binary(opType, fold, xs.written, y));
    }
    if (opType !== 'Max' && ys && small(x)) {
      return b.scatter(binary(opType, fold, x, ys.base), ys.index, binary(opType, fold, x, ys.written));
    }
    if (opType === 'Mul' && x.dtype === 'float32') {
      // (X·a)·b = X·(a·b) for rows or scalars a, b; and X + X·r = X·(1 + r): one pass over N·K instead of
      // two or three (rounding differs by an ulp or two, like any reassociation).
      if (x.product && small(y)) return ops.mul(x.product.full, ops.mul(x.product.factor, y));
      if (y.product && small(x)) return ops.mul(y.product.full, ops.mul(y.product.factor, x));
      if (x.extent === 'full' && small(y))
        return { ...b.node('Mul', [x, y], 'float32', 'full'), product: { full: x, factor: y } };
      if (y.extent === 'full' && small(x))
        return { ...b.node('Mul', [y, x], 'float32', 'full'), product: { full: y, factor: x } };
    }
    if (opType === 'Add' && x.dtype === 'float32') {
      const one = b.scalar(1, 'float32');
      if (y.product && y.product.full.name === x.name) return ops.mul(x, ops.add(one, y.product.factor));
      if (x.product && x.product.full.name === y.name) return ops.mul(y, ops.add(one, x.product.factor));
    }
    // X·r ± c and c ± X·r (rows or scalars r, c, one a row) are one affine pass (BatchNormalization).
    const perRow = (p: GraphValue, c: GraphValue) =>
      small(p) && small(c) && (p.extent === 'row' || c.extent === 'row');
    if ((opType === 'Add' || opType === 'Sub') && x.dtype === 'float32') {
      if (x.product && perRow(x.product.factor, y)) {
        return b.affine(x.product.full, x.product.factor, opType === 'Add' ? y : ops.neg(y));
      }
      if (y.product && perRow(y.product.factor, x)) {
        return b.affine(y.product.full, opType === 'Add' ? y.product.factor : ops.neg(y.product.factor), x);
      }
    }
    const value = b.node(opType, [x, y], x.dtype, broadcastExtent(x.extent, y.extent));
    const nonNegative = (v: GraphValue) =>
      v.sign === 'nonNegative' || (v.constant !== undefined && v.constant >= 0);
    if (
      ((opType === 'Mul' || opType === 'Div') && nonNegative(x) && nonNegative(y)) ||
      (opType === 'Max' && (nonNegative(x) || nonNegative(y)))
    ) {
      return { ...value, sign: 'nonNegative' as const };
    }
    if (opType === 'Sub' && x.dtype === 'float32' && x.extent === 'full' && y.extent === 'row') {
      const belowMax = y.rowMaxOf?.name === x.name;
      return {
        ...value,
        difference: { full: x, row: y },
        ...(belowMax ? { sign: 'nonPositive' as const } : {}),
      };
    }
    return value;
  };
  const unary = (opType: 'Neg' | 'Abs' | 'Exp' | 'Log', fold: (x: number) => number, x: GraphValue) => {
    if (x.constant !== undefined && x.dtype === 'float32') return b.scalar(f32(fold(x.constant)), 'float32');
    const value = b.node(opType, [x], x.dtype, x.extent);
    return opType === 'Exp' || opType === 'Abs' ? { ...value, sign: 'nonNegative' as const } : value;
  };
  const compare = (opType: 'Greater' | 'Equal', x: GraphValue, y: GraphValue) =>
    b.node(opType, [x, y], 'bool', broadcastExtent(x.extent, y.extent));

  const ops: TensorOpsV1<GraphValue> = {
    specificationVersion: 'v1',
    name: 'onnx-graph',
    scalar: (value, like) => b.scalar(value, like.dtype === 'bool' ? 'float32' : like.dtype),
    intScalar: (value) => b.scalar(value, 'int64'),
    vector: (values) => {
      const v = b.constant('float32', [values.length], Array.from(values));
      return { ...v, extent: 'vector' };
    },
    add: (x, y) => binary('Add', (p, q) => p + q, x, y),
    sub: (x, y) => binary('Sub', (p, q) => p - q, x, y),
    mul: (x, y) => binary('Mul', (p, q) => p * q, x, y),
    div: (x, y) => binary('Div', (p, q) => p / q, x, y),
    maximum: (x, y) => binary('Max', Math.max, x, y),
    neg: (x) => unary('Neg', (p) => -p, x),
    abs: (x) => unary('Abs', Math.abs, x),
    exp: (x) => unary('Exp', Math.exp, x),
    log: (x) => unary('Log', Math.log, x),
    greater: (x, y) => compare('Greater', x, y),
    equal: (x, y) => compare('Equal', x, y),
    logicalAnd: (x, y) => b.node('And', [x, y], 'bool', broadcastExtent(x.extent, y.extent)),
    logicalNot: (x) => b.node('Not', [x], 'bool', x.extent),
    where: (condition, x, y) => {
      const extent = broadcastExtent(condition.extent, broadcastExtent(x.extent, y.extent));
      const same =
        x.name === y.name ||
        (x.constant !== undefined && y.constant !== undefined && Object.is(x.constant, y.constant));
      if (same && extent === x.extent && extent !== 'unknown') return x;
      const value =
        condition.oneHotIndices && y.extent === 'full' && x.extent !== 'unknown' && x.extent !== 'batch'
          ? b.replaceAtTarget(condition, x, y)
          : b.node('Where', [condition, x, y], x.dtype, extent);
      // Remember what a one-hot selection selects: its row sum is a gather, its row max a TopK.
      if (condition.oneHotIndices && x.extent === 'full' && isConstant(y, 0)) {
        return { ...value, oneNonzeroPerRow: true, selects: { oneHot: condition, value: x, kind: 'target' } };
      }
      if (condition.oneHotIndices && y.extent === 'full' && x.constant !== undefined) {
        return { ...value, selects: { oneHot: condition, value: y, kind: 'others', fill: x.constant } };
      }
      return condition.oneNonzeroPerRow && isConstant(y, 0) ? { ...value, oneNonzeroPerRow: true } : value;
    },
    castLike: (mask) => {
      if (mask.oneHotLike) {
        // A one-hot mask as 0/1 floats: ones scattered into zeros, without the mask.
        const like = mask.oneHotLike;
        const zeros = b.node(
          'Expand',
          [b.scalar(0, 'float32'), b.node('Shape', [like], 'int64', 'unknown')],
          'float32',
          'full',
        );
        return { ...b.replaceAtTarget(mask, b.scalar(1, 'float32'), zeros), oneNonzeroPerRow: true };
      }
      const value = b.node('Cast', [mask], 'float32', mask.extent, { to: DataType.FLOAT });
      return mask.oneNonzeroPerRow ? { ...value, oneNonzeroPerRow: true } : value;
    },
    maxLastAxis: (x) =>
      x.selects?.kind === 'others' && x.selects.fill !== undefined
        ? b.maxOfOthers(x.selects.value, x.selects.oneHot, x.selects.fill)
        : (b.softmaxMaxOfOthers(x) ?? b.softmaxMax(x) ?? b.rowMax(x)),
    argMaxLastAxis: (x) => b.argMax(x),
    sumLastAxis: (x, precision) => {
      if (x.selects?.kind === 'target') return b.atTarget(x.selects.value, x.selects.oneHot).value;
      // x − its row max: no cancellation, a blocked sum of the difference itself; else in float64 from x.
      if (x.difference && !x.sign) return b.sumOfDifference(x.difference.full, x.difference.row);
      // The caller's word that every term is ≥ 0 is a sign like one the builder tracks itself.
      const signed: GraphValue = precision === 'nonNegative' ? { ...x, sign: 'nonNegative' } : x;
      return b.reduceLastAxis('ReduceSum', signed, precision === 'bounded');
    },
    sumAll: (x) => {
      if (x.extent === 'scalar') return x;
      if (x.dtype === 'float32') return b.accurateSum(x, 'scalar', [], { keepdims: 0 });
      return b.node('ReduceSum', [x], x.dtype, 'scalar', { keepdims: 0 });
    },
    expandLastAxis: (x) =>
      b.node('Unsqueeze', [x, b.ints([-1])], x.dtype, x.extent === 'batch' ? 'row' : 'unknown'),
    squeezeLastAxis: (x) =>
      b.node('Squeeze', [x, b.ints([-1])], x.dtype, x.extent === 'row' ? 'batch' : 'unknown'),
    oneHot: (indices, like) => {
      // Equal(Range(0, K), indices[..., None]): an index outside [0, K) (ignoreIndex) matches no class,
      // unlike ONNX OneHot, which counts negative indices from the end.
      const classes = b.node(
        'Range',
        [b.scalar(0, 'int64'), b.lastAxisLength(like), b.scalar(1, 'int64')],
        'int64',
        'vector',
      );
      return {
        ...compare('Equal', classes, ops.expandLastAxis(indices)),
        oneNonzeroPerRow: true,
        oneHotIndices: indices,
        oneHotLike: like,
      };
    },
    lastAxisSize: (like) =>
      b.node('Cast', [b.lastAxisLength(like)], 'float32', 'scalar', { to: DataType.FLOAT }),
    log1p: (x) => {
      const one = b.scalar(1, 'float32');
      // Over [..., K] (soft targets) log(1 + x): its absolute error of ~1 ulp is all the loss sees (log(1 − p)
      // is added, or exponentiated), and the careful form below would cost five more passes over N·K.
      if (x.extent === 'full' || x.extent === 'unknown')
        return b.node('Log', [b.node('Add', [x, one], 'float32', x.extent)], 'float32', x.extent);
      // ONNX has no Log1p. log1p(x) = x · log(u) / (u − 1) with u = 1 + x rounded (Goldberg): the rounding
      // error of u cancels, so small |x| keeps full relative precision; u = 1 gives x itself.
      const u = b.node('Add', [x, one], 'float32', x.extent);
      const d = b.node('Sub', [u, one], 'float32', x.extent);
      const ratio = b.node('Div', [b.node('Log', [u], 'float32', x.extent), d], 'float32', x.extent);
      const exact = b.node('Equal', [d, b.scalar(0, 'float32')], 'bool', x.extent);
      return b.node('Where', [exact, x, b.node('Mul', [x, ratio], 'float32', x.extent)], 'float32', x.extent);
    },
    logSoftmax: (x) => b.node('LogSoftmax', [x], 'float32', x.extent, { axis: -1 }),
    softmax: (x) => ({
      ...b.node('Softmax', [x], 'float32', x.extent, { axis: -1 }),
      softmaxOf: x,
      sign: 'nonNegative' as const,
    }),
    // Core passes x ∈ [1/10, 1] with Σ(1 − x) ≤ 1: the product of a row is ≥ 1/13, and one ReduceProd pass
    // replaces a Log per element. Its relative error, at most K ulps, reaches the loss scaled by ε/K.
    sumLogLastAxis: (x) => {
      const extent: Extent = x.extent === 'full' ? 'row' : 'unknown';
      const product =
        b.opset >= 18
          ? b.node('ReduceProd', [x, b.ints([-1])], 'float32', extent, { keepdims: 1 })
          : b.node('ReduceProd', [x], 'float32', extent, { axes: [-1], keepdims: 1 });
      return b.node('Log', [product], 'float32', extent);
    },
  };
  opsCache.set(b, ops);
  return ops;
}
