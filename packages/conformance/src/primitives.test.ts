import {
  type ArrayTensor,
  arrayTensor,
  encouragingLossWithGrad,
  type TensorOps,
  typedArrayOps,
} from '@encouraging-loss/core';
import { describeConformance } from './describe-conformance.js';

// A backend with the two contract violations that the loss cases cannot see on every backend: a oneHot that counts
// negative indices from the end (NumPy-style indexing, ONNX OneHot) and a row sum that accumulates in float32.
// Its loss is the core's (correct), so only the primitive cases may fail — and both must, or the strict
// expected-failure list fails the run.
const wrappingOps: TensorOps<ArrayTensor> = {
  ...typedArrayOps,
  name: 'typed-array with wrapping oneHot and float32 sums',
  oneHot: (indices, like) => {
    const k = like.shape[like.shape.length - 1];
    const data = new Uint8Array(indices.data.length * k);
    for (let r = 0; r < indices.data.length; r++) {
      const y = indices.data[r] < 0 ? indices.data[r] + k : indices.data[r];
      if (y >= 0 && y < k) data[r * k + y] = 1;
    }
    return { dtype: 'bool', shape: [...indices.shape, k], data };
  },
  sumLastAxis: (x) => {
    const k = x.shape[x.shape.length - 1];
    const rows = x.data.length / k;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const sum = new Float32Array(1);
      for (let j = 0; j < k; j++) sum[0] += x.data[r * k + j];
      out[r] = sum[0];
    }
    return { dtype: 'float32', shape: [...x.shape.slice(0, -1), 1], data: out };
  },
};

describeConformance<ArrayTensor>({
  name: 'a backend that breaks the primitive contract',
  precision: 'float32',
  lossWithGrad: ({ logits, targets, options }) =>
    encouragingLossWithGrad({ data: Float32Array.from(logits.data), shape: logits.shape }, targets, options),
  ops: {
    ops: wrappingOps,
    fromArray: (data, shape, kind) =>
      arrayTensor(data, shape, kind === 'float' ? 'float32' : kind === 'int' ? 'int32' : 'bool'),
    toArray: (t) => ({ data: t.data, shape: t.shape }),
  },
  expectedFailures: {
    'primitives > oneHot gives an all-false row for an index outside [0, K) (no wrapping of negative indices)':
      'oneHot wraps -1 to K - 1',
    'primitives > sumLastAxis keeps the tail of K = 32 000 classes (no plain float32 accumulation)':
      'sums in float32',
  },
});
