import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expectTypeOf, it } from 'vitest';
import {
  bonusScheduleCallback,
  categoricalEncouragingLoss,
  encouragingLoss,
  type KerasEncouragingLoss,
  sparseCategoricalEncouragingLoss,
} from './index.js';

// The package imports nothing from tfjs-layers; these check its objects fit tfjs-layers' own types structurally.
type CompileArgs = Parameters<tfl.LayersModel['compile']>[0];
type FitCallbacks = NonNullable<Parameters<tfl.LayersModel['fit']>[2]>['callbacks'];

describe('types', () => {
  it('the Keras-style losses and their metrics fit model.compile', () => {
    const loss = categoricalEncouragingLoss({ logEnd: 0.75 });
    expectTypeOf(loss).toExtend<CompileArgs['loss']>();
    expectTypeOf([...loss.metrics]).toExtend<NonNullable<CompileArgs['metrics']>>();
    expectTypeOf(sparseCategoricalEncouragingLoss()).toEqualTypeOf<KerasEncouragingLoss>();
    expectTypeOf(loss.bonusWeight).toBeNumber();
  });

  it('the schedule callback fits model.fit callbacks', () => {
    const callback = bonusScheduleCallback(categoricalEncouragingLoss(), { schedule: { kind: 'constant' } });
    expectTypeOf(callback).toExtend<FitCallbacks>();
    expectTypeOf(callback).toExtend<tfl.CustomCallbackArgs>();
  });

  it('the loss takes and returns tf.Tensors, with no positional booleans', () => {
    expectTypeOf(encouragingLoss).parameters.toEqualTypeOf<
      [tf.Tensor, tf.Tensor, Parameters<typeof encouragingLoss>[2]?]
    >();
    expectTypeOf(encouragingLoss).returns.toEqualTypeOf<tf.Tensor>();
    // @ts-expect-error reduction is fixed for Keras losses (per-example losses)
    categoricalEncouragingLoss({ reduction: 'sum' });
  });
});
