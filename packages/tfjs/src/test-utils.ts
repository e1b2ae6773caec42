import type { ConformanceAdapter, ConformanceCase, ConformanceTensor } from '@encouraging-loss/conformance';
import * as tf from '@tensorflow/tfjs-core';
import expectations from '../conformance-expectations.json' with { type: 'json' };
import { type Implementation, sigmoidEncouragingLoss, withImplementation } from './encouraging-loss.js';
import { tfjsOps } from './tfjs-ops.js';

/** Reads a tensor back as plain data and frees it. */
export async function plain(t: tf.Tensor): Promise<ConformanceTensor> {
  const out = { data: Float64Array.from(await t.data()), shape: [...t.shape] };
  t.dispose();
  return out;
}

function inputs({ logits, targets, targetType }: ConformanceCase): [tf.Tensor, tf.Tensor] {
  return [
    tf.tensor(Float32Array.from(logits.data), logits.shape, 'float32'),
    targetType === 'indices'
      ? tf.tensor(Int32Array.from(targets.data), targets.shape, 'int32')
      : tf.tensor(Float32Array.from(targets.data), targets.shape, 'float32'),
  ];
}

/**
 * The conformance adapter of the public tfjs API on the active backend: the gradient is taken by `tf.valueAndGrad`
 * through the customGrad of `encouragingLoss`, the loss alone outside a tape, the components by
 * `encouragingLossComponents`. `implementation` pins the fused kernel (`'auto'` on cpu / wasm) or the composed ops.
 */
export function tfjsAdapter(name: string, implementation: Implementation): ConformanceAdapter<tf.Tensor> {
  const api = withImplementation(implementation);
  const known = expectations as Record<string, Record<string, string>>;
  return {
    name,
    precision: 'float32',
    expectedFailures: known[name] ?? {},
    lossWithGrad: async (testCase) => {
      const [x, y] = inputs(testCase);
      const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => api.encouragingLoss(z, y, testCase.options))(
        x,
      );
      tf.dispose([x, y]);
      return { loss: await plain(value), grad: await plain(grad) };
    },
    loss: async (testCase) => {
      const [x, y] = inputs(testCase);
      const loss = api.encouragingLoss(x, y, testCase.options);
      tf.dispose([x, y]);
      return plain(loss);
    },
    components: async (testCase) => {
      const [x, y] = inputs(testCase);
      const out = api.encouragingLossComponents(x, y, testCase.options);
      tf.dispose([x, y]);
      return {
        loss: await plain(out.loss),
        crossEntropy: await plain(out.crossEntropy),
        bonus: await plain(out.bonus),
      };
    },
    sigmoidLossWithGrad: async ({ logits, targets, options }) => {
      const x = tf.tensor(Float32Array.from(logits.data), logits.shape, 'float32');
      const y = tf.tensor(Float32Array.from(targets.data), targets.shape, 'float32');
      const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => sigmoidEncouragingLoss(z, y, options))(x);
      tf.dispose([x, y]);
      return { loss: await plain(value), grad: await plain(grad) };
    },
    ops:
      implementation === 'composed'
        ? {
            ops: tfjsOps,
            fromArray: (data, shape, kind) =>
              tf.tensor(
                kind === 'int'
                  ? Int32Array.from(data)
                  : kind === 'bool'
                    ? Uint8Array.from(data)
                    : Float32Array.from(data),
                [...shape],
                kind === 'float' ? 'float32' : kind === 'int' ? 'int32' : 'bool',
              ),
            toArray: plain,
          }
        : undefined,
  };
}
