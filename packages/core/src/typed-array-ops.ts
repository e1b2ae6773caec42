import { EncouragingLossError } from './errors.js';
import type { TensorOpsV1 } from './tensor-ops.js';

/** Element type of an {@link ArrayTensor}. */
export type ArrayDType = 'float32' | 'float64' | 'int32' | 'bool';

/** The typed-array backend's tensor: row-major data and its shape. */
export interface ArrayTensor {
  readonly dtype: ArrayDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

function allocate(dtype: ArrayDType, size: number): ArrayTensor['data'] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** Makes an {@link ArrayTensor}, copying `values` into a typed array of `dtype`. */
export function arrayTensor(
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: ArrayDType,
): ArrayTensor {
  const data = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = values[i];
  return { dtype, shape: [...shape], data };
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new EncouragingLossError('INVALID_SHAPE', `Cannot broadcast shapes [${a}] and [${b}].`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Flat source index of each output element for `shape` broadcast to `outShape`. */
function broadcastIndex(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const size = sizeOf(outShape);
  const index = new Int32Array(size);
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = rank - shape.length + i;
    strides[axis] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  const coordinate = new Array<number>(rank).fill(0);
  for (let flat = 0, source = 0; flat < size; flat++) {
    index[flat] = source;
    for (let axis = rank - 1; axis >= 0; axis--) {
      coordinate[axis]++;
      source += strides[axis];
      if (coordinate[axis] < outShape[axis]) break;
      source -= strides[axis] * coordinate[axis];
      coordinate[axis] = 0;
    }
  }
  return index;
}

function mapN(inputs: ArrayTensor[], dtype: ArrayDType, fn: (...values: number[]) => number): ArrayTensor {
  const shape = inputs.map((t) => t.shape).reduce(broadcastShape);
  const indices = inputs.map((t) => broadcastIndex(t.shape, shape));
  const data = allocate(dtype, sizeOf(shape));
  const values = new Array<number>(inputs.length);
  for (let i = 0; i < data.length; i++) {
    for (let j = 0; j < inputs.length; j++) values[j] = inputs[j].data[indices[j][i]];
    data[i] = fn(...values);
  }
  return { dtype, shape, data };
}

const floatOf = (...tensors: ArrayTensor[]): ArrayDType =>
  tensors.some((t) => t.dtype === 'float64')
    ? 'float64'
    : tensors.some((t) => t.dtype === 'float32')
      ? 'float32'
      : 'float64';

function reduceLast(x: ArrayTensor, init: number, step: (acc: number, v: number) => number): ArrayTensor {
  const k = x.shape[x.shape.length - 1];
  const rows = x.data.length / k;
  const data = allocate(x.dtype, rows);
  for (let r = 0; r < rows; r++) {
    let acc = init;
    for (let j = 0; j < k; j++) acc = step(acc, x.data[r * k + j]);
    data[r] = acc;
  }
  return { dtype: x.dtype, shape: [...x.shape.slice(0, -1), 1], data };
}

/**
 * The reference implementation of {@link TensorOpsV1} over typed arrays: straightforward loops with NumPy
 * broadcasting, computing in float64 and storing in the input's dtype. It runs the composed math (the path every
 * other backend follows); `encouragingLossWithGrad` on plain tensors uses the fused kernel instead.
 */
export const typedArrayOps: TensorOpsV1<ArrayTensor> = {
  specificationVersion: 'v1',
  name: 'typed-array',
  scalar: (value, like) => arrayTensor([value], [], like.dtype === 'float32' ? 'float32' : 'float64'),
  intScalar: (value) => arrayTensor([value], [], 'int32'),
  vector: (values, like) =>
    arrayTensor(values, [values.length], like.dtype === 'float32' ? 'float32' : 'float64'),
  add: (a, b) => mapN([a, b], floatOf(a, b), (x, y) => x + y),
  sub: (a, b) => mapN([a, b], floatOf(a, b), (x, y) => x - y),
  mul: (a, b) => mapN([a, b], floatOf(a, b), (x, y) => x * y),
  div: (a, b) => mapN([a, b], floatOf(a, b), (x, y) => x / y),
  maximum: (a, b) => mapN([a, b], floatOf(a, b), (x, y) => (x > y || Number.isNaN(x) ? x : y)),
  neg: (x) => mapN([x], x.dtype, (v) => -v),
  abs: (x) => mapN([x], x.dtype, Math.abs),
  exp: (x) => mapN([x], x.dtype, Math.exp),
  log: (x) => mapN([x], x.dtype, Math.log),
  log1p: (x) => mapN([x], x.dtype, Math.log1p),
  greater: (a, b) => mapN([a, b], 'bool', (x, y) => (x > y ? 1 : 0)),
  equal: (a, b) => mapN([a, b], 'bool', (x, y) => (x === y ? 1 : 0)),
  logicalAnd: (a, b) => mapN([a, b], 'bool', (x, y) => (x && y ? 1 : 0)),
  logicalNot: (x) => mapN([x], 'bool', (v) => (v ? 0 : 1)),
  where: (condition, a, b) => mapN([condition, a, b], floatOf(a, b), (c, x, y) => (c ? x : y)),
  castLike: (mask, like) =>
    mapN([mask], like.dtype === 'float32' ? 'float32' : 'float64', (v) => (v ? 1 : 0)),
  maxLastAxis: (x) =>
    reduceLast(x, Number.NEGATIVE_INFINITY, (acc, v) => (v > acc || Number.isNaN(v) ? v : acc)),
  sumLastAxis: (x) => reduceLast(x, 0, (acc, v) => acc + v),
  sumAll: (x) => {
    let sum = 0;
    for (let i = 0; i < x.data.length; i++) sum += x.data[i];
    return arrayTensor([sum], [], x.dtype);
  },
  expandLastAxis: (x) => ({ ...x, shape: [...x.shape, 1] }),
  squeezeLastAxis: (x) => ({ ...x, shape: x.shape.slice(0, -1) }),
  oneHot: (indices, like) => {
    const k = like.shape[like.shape.length - 1];
    const data = new Uint8Array(indices.data.length * k);
    for (let r = 0; r < indices.data.length; r++) {
      const y = indices.data[r];
      if (y >= 0 && y < k) data[r * k + y] = 1;
    }
    return { dtype: 'bool', shape: [...indices.shape, k], data };
  },
  lastAxisSize: (like) =>
    arrayTensor([like.shape[like.shape.length - 1]], [], like.dtype === 'float32' ? 'float32' : 'float64'),
};
