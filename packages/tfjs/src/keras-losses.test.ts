import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-layers trains with tfjs's op gradients (the umbrella @tensorflow/tfjs registers them the same way).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { assertAllClose, seededRandom } from '@encouraging-loss/conformance';
import * as core from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  bonusScheduleCallback,
  categoricalEncouragingLoss,
  encouragingLoss,
  encouragingLossComponents,
  sparseCategoricalEncouragingLoss,
} from './index.js';

const float32 = { rtol: 1e-5, atol: 1e-6 };

/** Three overlapping Gaussian blobs in 2-D, seeded. */
function blobs(n: number, seed: number) {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centers = [
    [0, 2],
    [-2, -1],
    [2, -1],
  ];
  const xs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    xs.push(centers[c][0] + 0.8 * normal(), centers[c][1] + 0.8 * normal());
    labels.push(c);
  }
  return { x: tf.tensor2d(xs, [n, 2]), labels: tf.tensor1d(labels, 'int32') };
}

function mlp(seed: number, softmax: boolean) {
  const model = tfl.sequential();
  const kernelInitializer = tfl.initializers.glorotUniform({ seed });
  model.add(tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [2], kernelInitializer }));
  model.add(tfl.layers.dense({ units: 3, activation: softmax ? 'softmax' : 'linear', kernelInitializer }));
  return model;
}

describe.each(['cpu', 'wasm'] as const)('Keras-style losses on %s', (backend) => {
  it('fromLogits false (probabilities) gives the values and, through softmax, the logits gradient of fromLogits true', async () => {
    await tf.setBackend(backend);
    // Rows up to margin 30: EL's target gradient must stay −1 through the probabilities path.
    const logits = tf.tensor2d([
      [2, -1, 0.5, 0],
      [30, 0, -1, 1],
      [0.1, 0.2, 0.3, -0.4],
    ]);
    const labels = tf.tensor1d([0, 0, 3], 'int32');
    for (const options of [{ logEnd: 1 }, { logEnd: 0.75 }, { logEnd: 0.5, labelSmoothing: 0.1 }]) {
      const probabilities = sparseCategoricalEncouragingLoss(options);
      const fromLogits = sparseCategoricalEncouragingLoss({ ...options, fromLogits: true });
      const a = tf.valueAndGrad((z: tf.Tensor) => tf.mean(probabilities(labels, tf.softmax(z))))(logits);
      const b = tf.valueAndGrad((z: tf.Tensor) => tf.mean(fromLogits(labels, z)))(logits);
      assertAllClose(Array.from(await a.value.data()), Array.from(await b.value.data()), float32, 'loss');
      assertAllClose(
        Array.from(await a.grad.data()),
        Array.from(await b.grad.data()),
        { rtol: 1e-4, atol: 1e-6 },
        'grad',
      );
      const expected = core.encouragingLossWithGrad(
        { data: (await logits.data()) as Float32Array, shape: [3, 4] },
        { data: Int32Array.from([0, 0, 3]), shape: [3] },
        options,
      );
      assertAllClose(Array.from(await b.grad.data()), Array.from(expected.grad.data), float32, 'core grad');
      tf.dispose([a.value, a.grad, b.value, b.grad]);
    }
  });

  it('sparse labels [N] / [N, 1] of any dtype equal one-hot labels; per-example losses; metrics are the parts', async () => {
    await tf.setBackend(backend);
    const logits = tf.tensor2d([
      [1, 2, 3],
      [3, 0, -2],
    ]);
    const probabilities = tf.softmax(logits);
    const sparse = sparseCategoricalEncouragingLoss({ logEnd: 0.5 });
    const categorical = categoricalEncouragingLoss({ logEnd: 0.5 });
    const expected = await encouragingLoss(logits, tf.tensor1d([2, 0], 'int32'), {
      logEnd: 0.5,
      reduction: 'none',
    }).data();
    for (const yTrue of [tf.tensor1d([2, 0]), tf.tensor2d([[2], [0]]), tf.tensor1d([2, 0], 'int32')]) {
      const out = sparse(yTrue, probabilities);
      expect(out.shape).toEqual([2]);
      assertAllClose(Array.from(await out.data()), Array.from(expected), float32, 'sparse');
    }
    const oneHot = tf.tensor2d([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    assertAllClose(
      Array.from(await categorical(oneHot, probabilities).data()),
      Array.from(expected),
      float32,
      'categorical',
    );
    const parts = encouragingLossComponents(logits, tf.tensor1d([2, 0], 'int32'), {
      logEnd: 0.5,
      reduction: 'none',
    });
    const [crossEntropy, bonus] = categorical.metrics;
    expect([crossEntropy.name, bonus.name]).toEqual(['crossEntropy', 'bonus']);
    assertAllClose(
      Array.from(await crossEntropy(oneHot, probabilities).data()),
      Array.from(await parts.crossEntropy.data()),
      float32,
      'ce',
    );
    assertAllClose(
      Array.from(await bonus(oneHot, probabilities).data()),
      Array.from(await parts.bonus.data()),
      float32,
      'bonus',
    );
  });

  it('bonusWeight is settable and validated; options are validated when the loss is made', async () => {
    await tf.setBackend(backend);
    const loss = categoricalEncouragingLoss({ bonusWeight: 2 });
    expect(loss.bonusWeight).toBe(2);
    loss.bonusWeight = 0;
    const logits = tf.tensor2d([[1, 2, 3]]);
    const ce = tf.losses.softmaxCrossEntropy(
      tf.tensor2d([[0, 1, 0]]),
      logits,
      undefined,
      undefined,
      tf.Reduction.NONE,
    );
    assertAllClose(
      Array.from(await loss(tf.tensor2d([[0, 1, 0]]), tf.softmax(logits)).data()),
      Array.from(await ce.data()),
      float32,
      'ρ = 0 is CE',
    );
    expect(() => {
      loss.bonusWeight = -1;
    }).toThrow(core.EncouragingLossError);
    expect(() => categoricalEncouragingLoss({ logEnd: 0 })).toThrow(/logEnd/);
    expect(() => sparseCategoricalEncouragingLoss({ fromLogits: 'yes' as unknown as boolean })).toThrow(
      /fromLogits/,
    );
    expect(() => sparseCategoricalEncouragingLoss({ checkValues: 1 as unknown as boolean })).toThrow(
      /checkValues must be a boolean/,
    );
    // fromLogits and checkValues are this layer's: only the loss options reach core, which refuses unknown keys.
    expect(() =>
      sparseCategoricalEncouragingLoss({ fromLogits: true, checkValues: true, logEnd: 1 }),
    ).not.toThrow();
    expect(() => categoricalEncouragingLoss({ logend: 0.5 } as never)).toThrow(/"logend".*logEnd/);
    expect(() => categoricalEncouragingLoss({ classWeights: [1, 1e39, 1] })).toThrow(
      /classWeights\[1\] is 1e\+39, beyond float32/,
    );
    expect(() => {
      loss.bonusWeight = 1e39;
    }).toThrow(/bonusWeight is 1e\+39, beyond float32/);
  });

  it('with checkValues, a float sparse label that is not an integer class is INVALID_TARGET, not truncated', async () => {
    await tf.setBackend(backend);
    const logits = tf.tensor2d([
      [1, 2, 0.5],
      [-1, 0.3, 2.5],
      [0, 0, 1],
    ]);
    const checked = sparseCategoricalEncouragingLoss({ fromLogits: true, checkValues: true });
    const codeOf = (labels: tf.Tensor) => {
      try {
        checked(labels, logits).dispose();
      } catch (error) {
        expect(core.isEncouragingLossError(error), String(error)).toBe(true);
        return `${(error as core.EncouragingLossError).code}: ${(error as Error).message}`;
      }
      return 'no error';
    };
    for (const [labels, bad] of [
      [tf.tensor1d([0, 1.5, 2]), 'Target 1.5 at index 1 (coordinates [1])'],
      [tf.tensor2d([[2], [0], [0.25]]), 'Target 0.25 at index 2 (coordinates [2])'],
      [tf.tensor1d([Number.NaN, 1, 2]), 'Target NaN at index 0'],
      [tf.tensor1d([0, 1, 1e10]), 'Target 10000000000 at index 2'],
      [tf.tensor1d([0, 3, 1]), 'Target 3 at index 1'],
    ] as const) {
      expect(codeOf(labels)).toMatch(new RegExp(`^INVALID_TARGET: ${bad.replace(/[[\]()]/g, '\\$&')}`));
    }
    // Integer-valued float labels (and ignoreIndex) pass, with the values of int32 labels.
    expect(codeOf(tf.tensor1d([2, -100, 0]))).toBe('no error');
    const asFloat = checked(tf.tensor1d([2, -100, 0]), logits);
    const asInt = checked(tf.tensor1d([2, -100, 0], 'int32'), logits);
    assertAllClose(
      Array.from(await asFloat.data()),
      Array.from(await asInt.data()),
      float32,
      'float = int32 labels',
    );
    // Without checkValues nothing is read back: the cast truncates, as tfjs's own sparse loss does.
    const unchecked = sparseCategoricalEncouragingLoss({ fromLogits: true });
    const truncated = unchecked(tf.tensor1d([0, 1.5, 2]), logits);
    const one = unchecked(tf.tensor1d([0, 1, 2], 'int32'), logits);
    assertAllClose(Array.from(await truncated.data()), Array.from(await one.data()), float32, 'truncated');
  });

  it('model.compile + model.fit trains with CE (ρ = 0), EL and CEL, logs the parts, and leaks no tensors', async () => {
    await tf.setBackend(backend);
    const train = blobs(150, 1);
    const test = blobs(90, 2);
    const ys = tf.oneHot(train.labels, 3);
    for (const [name, options] of [
      ['CE', { bonusWeight: 0 }],
      ['EL', { logEnd: 1 }],
      ['CEL 0.5', { logEnd: 0.5 }],
    ] as const) {
      const model = mlp(3, true);
      const loss = categoricalEncouragingLoss(options);
      model.compile({ optimizer: tf.train.adam(0.05), loss, metrics: ['accuracy', ...loss.metrics] });
      const first = await model.fit(train.x, ys, { epochs: 1, batchSize: 32, verbose: 0 });
      const before = tf.memory().numTensors;
      const history = await model.fit(train.x, ys, { epochs: 15, batchSize: 32, verbose: 0 });
      expect(tf.memory().numTensors, `${name}: tensors after fit`).toBe(before);
      expect(Object.keys(history.history)).toEqual(
        expect.arrayContaining(['loss', 'acc', 'crossEntropy', 'bonus']),
      );
      const ce = history.history.crossEntropy as number[];
      expect(ce[ce.length - 1], `${name}: cross-entropy falls`).toBeLessThan(
        (first.history.crossEntropy as number[])[0],
      );
      const accuracy = tf.tidy(
        () =>
          tf
            .mean(
              tf.cast(tf.equal(tf.argMax(model.predict(test.x) as tf.Tensor, -1), test.labels), 'float32'),
            )
            .dataSync()[0],
      );
      expect(accuracy, `${name}: test accuracy`).toBeGreaterThan(0.8);
      model.dispose();
    }
  });

  it('model.fitDataset trains with the sparse loss from logits; the callback ramps ρ per epoch and per batch', async () => {
    await tf.setBackend(backend);
    const train = blobs(120, 5);
    const batches = 4;
    // A dataset-shaped object: fitDataset needs only iterator() (no tfjs-data).
    const dataset = {
      size: batches,
      iterator: async () => {
        let i = 0;
        return {
          next: async () => {
            if (i >= batches) return { value: undefined, done: true };
            const start = i++ * 30;
            return {
              value: {
                xs: tf.slice(train.x, [start, 0], [30, 2]),
                ys: tf.slice(train.labels, [start], [30]),
              },
              done: false,
            };
          },
        };
      },
    };
    const model = mlp(7, false);
    const loss = sparseCategoricalEncouragingLoss({ fromLogits: true, logEnd: 0.75 });
    model.compile({ optimizer: tf.train.adam(0.05), loss, metrics: [...loss.metrics] });
    const schedule = { kind: 'linear', deferSteps: 1, totalSteps: 3 } as const;
    const history = await model.fitDataset(dataset as never, {
      epochs: 5,
      verbose: 0,
      callbacks: bonusScheduleCallback(loss, { schedule }),
    });
    expect(history.history.bonusWeight).toEqual([0, 0, 0.5, 1, 1]);
    const losses = history.history.crossEntropy as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);

    const seen: number[] = [];
    const perBatch = bonusScheduleCallback(loss, {
      schedule: core.bonusSchedule({ kind: 'linear', totalSteps: 8 }),
      unit: 'batch',
    });
    await model.fitDataset(dataset as never, {
      epochs: 2,
      verbose: 0,
      callbacks: [perBatch, { onBatchEnd: async () => void seen.push(loss.bonusWeight) }],
    });
    expect(seen).toEqual([0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]);
    expect(() => bonusScheduleCallback(loss, { schedule, unit: 'step' as 'batch' })).toThrow(
      core.EncouragingLossError,
    );
    model.dispose();
  });
});
