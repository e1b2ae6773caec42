import { describe, expectTypeOf, it } from 'vitest';
import {
  createEncouragingLoss,
  type EncouragingLossOptions,
  encouragingLoss,
  encouragingLossWithGrad,
  type TensorOps,
  type TensorOpsV1,
} from './index.js';

describe('types', () => {
  it('Float32Array logits give Float32Array results, Float64Array and number[] give Float64Array', () => {
    const targets = { data: new Int32Array([0]), shape: [1] };
    expectTypeOf(
      encouragingLoss({ data: new Float32Array(2), shape: [1, 2] }, targets).data,
    ).toEqualTypeOf<Float32Array>();
    expectTypeOf(
      encouragingLossWithGrad({ data: new Float64Array(2), shape: [1, 2] }, targets).grad.data,
    ).toEqualTypeOf<Float64Array>();
    expectTypeOf(
      encouragingLoss({ data: [0, 1], shape: [1, 2] }, targets).data,
    ).toEqualTypeOf<Float64Array>();
  });

  it('out has the gradient type of the logits', () => {
    const targets = { data: new Int32Array([0]), shape: [1] };
    const out = new Float32Array(2);
    expectTypeOf(
      encouragingLossWithGrad({ data: new Float32Array(2), shape: [1, 2] }, targets, { out }).grad.data,
    ).toEqualTypeOf<Float32Array>();
    // @ts-expect-error a Float32Array buffer for Float64Array logits
    encouragingLossWithGrad({ data: new Float64Array(2), shape: [1, 2] }, targets, { out });
  });

  it('options are one typed object', () => {
    expectTypeOf<EncouragingLossOptions['reduction']>().toEqualTypeOf<'mean' | 'sum' | 'none' | undefined>();
    // @ts-expect-error positional booleans are not an API
    encouragingLoss({ data: [0, 1], shape: [1, 2] }, { data: [0], shape: [1] }, true);
  });

  it('createEncouragingLoss keeps the backend tensor type', () => {
    type Fake = { id: number };
    const ops = {} as TensorOpsV1<Fake>;
    const el = createEncouragingLoss(ops);
    expectTypeOf(el.encouragingLossWithGrad).returns.toEqualTypeOf<{ loss: Fake; grad: Fake }>();
    expectTypeOf<TensorOps<Fake>>().toEqualTypeOf<TensorOpsV1<Fake>>();
    expectTypeOf<TensorOpsV1<Fake>['specificationVersion']>().toEqualTypeOf<'v1'>();
  });
});
