import { describeConformance } from '@encouraging-loss/conformance';
import expectations from '../conformance-expectations.json' with { type: 'json' };
import {
  type ArrayTensor,
  arrayTensor,
  createEncouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
  typedArrayOps,
} from './index.js';

const float = (precision: 'float32' | 'float64', data: Float64Array) =>
  precision === 'float32' ? Float32Array.from(data) : data;

// The fused kernel (the default of encouragingLossWithGrad), in float64 and float32.
for (const precision of ['float64', 'float32'] as const) {
  describeConformance({
    name: `typed-array fused ${precision}`,
    precision,
    expectedFailures: expectations[`typed-array fused ${precision}`],
    lossWithGrad: ({ logits, targets, options }) =>
      encouragingLossWithGrad({ data: float(precision, logits.data), shape: logits.shape }, targets, options),
    components: ({ logits, targets, options }) =>
      encouragingLossComponents(
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
