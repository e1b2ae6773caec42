import { describeConformance } from '@encouraging-loss/conformance';
import { describe, expect, it } from 'vitest';
import expectations from '../conformance-expectations.json' with { type: 'json' };
import { withKernel } from './encouraging-loss.js';
import {
  type ArrayTensor,
  arrayTensor,
  createEncouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
  typedArrayOps,
} from './index.js';
import { wasmKernel } from './wasm-kernel.js';

const float = (precision: 'float32' | 'float64', data: Float64Array) =>
  precision === 'float32' ? Float32Array.from(data) : data;

// The fused kernels in float64 and float32: the default path (WebAssembly SIMD where available, asserted below)
// and the pure-JS fallback, pinned.
const kernels = [
  ['fused', { encouragingLossWithGrad, encouragingLossComponents }],
  ['fused JS', withKernel('js')],
] as const;
for (const [label, api] of kernels) {
  for (const precision of ['float64', 'float32'] as const) {
    const name = `typed-array ${label} ${precision}` as const;
    describeConformance({
      name,
      precision,
      expectedFailures: expectations[name],
      lossWithGrad: ({ logits, targets, options }) =>
        api.encouragingLossWithGrad(
          { data: float(precision, logits.data), shape: logits.shape },
          targets,
          options,
        ),
      components: ({ logits, targets, options }) =>
        api.encouragingLossComponents(
          { data: float(precision, logits.data), shape: logits.shape },
          targets,
          options,
        ),
      sigmoidLossWithGrad: ({ logits, targets, options }) =>
        sigmoidEncouragingLossWithGrad(
          { data: float(precision, logits.data), shape: logits.shape },
          targets,
          options,
        ),
    });
  }
}

describe('fused kernel dispatch', () => {
  it('runs the WebAssembly SIMD kernel in Node', () => {
    expect(wasmKernel()).toBeDefined();
  });
});

// The composed math over the typed-array TensorOps: the code path every other backend runs.
const composed = createEncouragingLoss(typedArrayOps);
const asTensor = (t: ArrayTensor) => ({ data: t.data, shape: t.shape });
describeConformance<ArrayTensor>({
  name: 'typed-array composed float64',
  precision: 'float64',
  expectedFailures: expectations['typed-array composed float64'],
  lossWithGrad: ({ logits, targets, targetType, options }) => {
    const out = composed.encouragingLossWithGrad(
      arrayTensor(logits.data, logits.shape, 'float64'),
      arrayTensor(targets.data, targets.shape, targetType === 'indices' ? 'int32' : 'float64'),
      { ...options, targetType },
    );
    return { loss: asTensor(out.loss), grad: asTensor(out.grad) };
  },
  components: ({ logits, targets, targetType, options }) => {
    const out = composed.encouragingLossComponents(
      arrayTensor(logits.data, logits.shape, 'float64'),
      arrayTensor(targets.data, targets.shape, targetType === 'indices' ? 'int32' : 'float64'),
      { ...options, targetType },
    );
    return { loss: asTensor(out.loss), crossEntropy: asTensor(out.crossEntropy), bonus: asTensor(out.bonus) };
  },
  ops: {
    ops: typedArrayOps,
    fromArray: (data, shape, kind) =>
      arrayTensor(data, shape, kind === 'float' ? 'float64' : kind === 'int' ? 'int32' : 'bool'),
    toArray: asTensor,
  },
});
