import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Only the autodiff comparison needs tfjs's op gradients; the loss itself runs on its customGrad.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { assertAllClose, seededRandom } from '@encouraging-loss/conformance';
import * as core from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { withImplementation } from './encouraging-loss.js';
import {
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLoss,
  tfjsOps,
} from './index.js';

const float32 = { rtol: 1e-5, atol: 1e-6 };

// tfjs registers no gradient for comparisons (TensorFlow's is None): for the autodiff comparison, the masks the
// composed forward builds from p get a zero gradient, as in TensorFlow.
const zeros = (t: tf.Tensor) => () => tf.zeros(t.shape, 'float32');
for (const kernelName of ['Greater', 'Equal']) {
  tf.registerGradient({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, [a, b]) => ({ a: zeros(a), b: zeros(b) }),
  });
}

function batch(rows: number, K: number, seed: number, scale = 3) {
  const random = seededRandom(seed);
  const logits = Float32Array.from({ length: rows * K }, () => scale * (2 * random() - 1));
  const labels = Int32Array.from({ length: rows }, () => Math.floor(random() * K));
  return { logits, labels };
}

const backends = ['cpu', 'wasm'] as const;
const implementations = ['auto', 'composed'] as const;

describe.each(backends)('on %s', (backend) => {
  it('switches backend', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  describe.each(implementations)('%s implementation', (implementation) => {
    const api = withImplementation(implementation);

    it('tf.grad of the loss equals the core gradient, for [N, K] and [B, T, V] and every reduction', async () => {
      await tf.setBackend(backend);
      for (const [shape, options] of [
        [[5, 7], { logEnd: 0.75 }],
        [[2, 3, 6], { logEnd: 1, reduction: 'sum' }],
        [[4, 5], { logEnd: 0.5, labelSmoothing: 0.1, classWeights: [1, 2, 0.5, 1, 3] }],
        [[3, 4], { logEnd: 0.3, reduction: 'none', ignoreIndex: 2 }],
      ] as const) {
        const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const K = shape[shape.length - 1];
        const { logits, labels } = batch(rows, K, 7);
        const expected = core.encouragingLossWithGrad(
          { data: logits, shape: [...shape] },
          { data: labels, shape: shape.slice(0, -1) },
          options,
        );
        const x = tf.tensor(logits, [...shape]);
        const y = tf.tensor(labels, shape.slice(0, -1), 'int32');
        const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => api.encouragingLoss(z, y, options))(x);
        expect(value.shape).toEqual(expected.loss.shape);
        assertAllClose(Array.from(await value.data()), Array.from(expected.loss.data), float32, 'loss');
        assertAllClose(Array.from(await grad.data()), Array.from(expected.grad.data), float32, 'grad');
        tf.dispose([x, y, value, grad]);
      }
    });

    it("'none': the upstream gradient scales each row (chain rule through customGrad)", async () => {
      await tf.setBackend(backend);
      const { logits, labels } = batch(3, 4, 3);
      const weights = [0.5, -2, 3];
      const expected = core.encouragingLossWithGrad(
        { data: logits, shape: [3, 4] },
        { data: labels, shape: [3] },
        {
          reduction: 'none',
        },
      );
      const x = tf.tensor(logits, [3, 4]);
      const y = tf.tensor(labels, [3], 'int32');
      const grad = tf.grad((z: tf.Tensor) =>
        tf.sum(tf.mul(api.encouragingLoss(z, y, { reduction: 'none' }), weights)),
      )(x);
      const scaled = Array.from(expected.grad.data, (g, i) => g * weights[Math.floor(i / 4)]);
      assertAllClose(Array.from(await grad.data()), scaled, float32, 'grad');
      tf.dispose([x, y, grad]);
    });

    it('agrees with plain tfjs autodiff through the composed forward on moderate margins', async () => {
      await tf.setBackend(backend);
      const composed = core.createEncouragingLoss(tfjsOps);
      for (const options of [{ logEnd: 1 }, { logEnd: 0.75 }, { logEnd: 0.5, labelSmoothing: 0.1 }]) {
        const { logits, labels } = batch(6, 5, 11, 2);
        const x = tf.tensor(logits, [6, 5]);
        const y = tf.tensor(labels, [6], 'int32');
        const exact = tf.grad((z: tf.Tensor) => api.encouragingLoss(z, y, options))(x);
        // No customGrad: tfjs differentiates the core's composed ops itself.
        const autodiff = tf.grad((z: tf.Tensor) => composed.encouragingLoss(z, y, options))(x);
        assertAllClose(
          Array.from(await exact.data()),
          Array.from(await autodiff.data()),
          { rtol: 1e-4, atol: 1e-5 },
          'grad',
        );
        tf.dispose([x, y, exact, autodiff]);
      }
    });

    it('no tensor leaks: 1,000 calls inside and outside tf.tidy, with and without a tape', async () => {
      await tf.setBackend(backend);
      const { logits, labels } = batch(4, 6, 5);
      const x = tf.tensor(logits, [4, 6]);
      const y = tf.tensor(labels, [4], 'int32');
      const soft = tf.oneHot(y, 6);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 1000; i++) {
        const options = { logEnd: i % 2 ? 1 : 0.5, reduction: i % 3 ? 'mean' : 'none' } as const;
        api.encouragingLoss(x, i % 4 ? y : soft, options).dispose();
        const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => api.encouragingLoss(z, y, options))(x);
        tf.dispose([value, grad]);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.tidy(() => {
        for (let i = 0; i < 1000; i++) {
          api.encouragingLoss(x, y);
          tf.grad((z: tf.Tensor) => api.encouragingLoss(z, y, { labelSmoothing: 0.1 }))(x);
          const parts = api.encouragingLossComponents(x, y);
          tf.dispose([parts.loss, parts.crossEntropy, parts.bonus]);
          const both = api.encouragingLossWithGrad(x, soft);
          tf.dispose([both.loss, both.grad]);
        }
      });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y, soft]);
    });
  });

  it('components and the tape-free gradient match the core', async () => {
    await tf.setBackend(backend);
    const { logits, labels } = batch(5, 4, 9);
    const x = tf.tensor(logits, [5, 4]);
    const y = tf.tensor(labels, [5], 'int32');
    const options = { logEnd: 0.5, labelSmoothing: 0.1 };
    const expected = core.encouragingLossComponents(
      { data: logits, shape: [5, 4] },
      { data: labels, shape: [5] },
      options,
    );
    const parts = encouragingLossComponents(x, y, options);
    for (const key of ['loss', 'crossEntropy', 'bonus'] as const) {
      assertAllClose(Array.from(await parts[key].data()), Array.from(expected[key].data), float32, key);
    }
    const expectedGrad = core.encouragingLossWithGrad(
      { data: logits, shape: [5, 4] },
      { data: labels, shape: [5] },
      options,
    );
    const { grad } = encouragingLossWithGrad(x, y, options);
    assertAllClose(Array.from(await grad.data()), Array.from(expectedGrad.grad.data), float32, 'grad');
    tf.dispose([x, y, parts.loss, parts.crossEntropy, parts.bonus, grad]);
  });

  it('int32 one-hot targets are soft targets', async () => {
    await tf.setBackend(backend);
    const { logits, labels } = batch(3, 4, 2);
    const x = tf.tensor(logits, [3, 4]);
    const y = tf.tensor(labels, [3], 'int32');
    const a = encouragingLoss(x, y);
    const b = encouragingLoss(x, tf.oneHot(y, 4));
    assertAllClose(Array.from(await b.data()), Array.from(await a.data()), float32, 'loss');
  });

  it('the sigmoid loss and its tf.grad match the core', async () => {
    await tf.setBackend(backend);
    const random = seededRandom(4);
    const logits = Float32Array.from({ length: 12 }, () => 4 * (2 * random() - 1));
    const labels = Float32Array.from({ length: 12 }, (_, i) => (i % 5 === 0 ? -100 : i % 2));
    const options = { logEnd: 0.5, negativeWeight: 0.5 };
    const expected = core.sigmoidEncouragingLossWithGrad(
      { data: logits, shape: [3, 4] },
      { data: labels, shape: [3, 4] },
      options,
    );
    const x = tf.tensor(logits, [3, 4]);
    const y = tf.tensor(labels, [3, 4]);
    const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => sigmoidEncouragingLoss(z, y, options))(x);
    assertAllClose(Array.from(await value.data()), Array.from(expected.loss.data), float32, 'loss');
    assertAllClose(Array.from(await grad.data()), Array.from(expected.grad.data), float32, 'grad');
  });
});

describe('input validation', () => {
  const x = () => tf.zeros([2, 3]);
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(core.isEncouragingLossError(error)).toBe(true);
      return { code: (error as core.EncouragingLossError).code, message: (error as Error).message };
    }
    throw new Error('expected an EncouragingLossError');
  };

  it('checks shapes, dtypes and options eagerly, naming the bad value', async () => {
    await tf.setBackend('cpu');
    expect(codeOf(() => encouragingLoss(x(), tf.tensor([0, 1], [2], 'float32')))).toMatchObject({
      code: 'INVALID_DTYPE',
      message: expect.stringContaining("tf.cast(targets, 'int32')"),
    });
    expect(
      codeOf(() => encouragingLoss(tf.zeros([2, 3], 'int32'), tf.tensor([0, 1], [2], 'int32'))).code,
    ).toBe('INVALID_DTYPE');
    expect(codeOf(() => encouragingLoss(x(), tf.tensor([0, 1, 2], [3], 'int32')))).toMatchObject({
      code: 'INVALID_SHAPE',
      message: expect.stringContaining('[3]'),
    });
    expect(
      codeOf(() => encouragingLoss(x(), tf.tensor([0, 1], [2], 'int32'), { logEnd: 1.5 })),
    ).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('1.5'),
    });
    expect(
      codeOf(() => encouragingLoss(x(), tf.tensor([0, 1], [2], 'int32'), { classWeights: [1, 2] })).code,
    ).toBe('INVALID_OPTION');
    expect(
      codeOf(() => encouragingLoss([[1, 2]] as unknown as tf.Tensor, tf.tensor([0], [1], 'int32'))).code,
    ).toBe('INVALID_SHAPE');
    expect(codeOf(() => sigmoidEncouragingLoss(x(), tf.zeros([3, 2]))).code).toBe('INVALID_SHAPE');
  });

  it('refuses weights beyond float32 on every backend and implementation (the composed ops gave NaN)', async () => {
    const labels = () => tf.tensor([0, 2], [2], 'int32');
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      for (const implementation of ['auto', 'composed'] as const) {
        const api = withImplementation(implementation);
        expect(
          codeOf(() => api.encouragingLoss(x(), labels(), { classWeights: [1e308, 1, 1] })),
        ).toMatchObject({
          code: 'INVALID_OPTION',
          message: expect.stringContaining('classWeights[0] is 1e+308'),
        });
        expect(
          codeOf(() => api.encouragingLossWithGrad(x(), labels(), { bonusWeight: 3.5e38 })),
        ).toMatchObject({
          code: 'INVALID_OPTION',
          message: expect.stringContaining('bonusWeight is 3.5e+38'),
        });
        // The largest float32 is a valid weight.
        expect(() =>
          tf.dispose(api.encouragingLoss(x(), labels(), { classWeights: [3.4028234663852886e38, 1, 1] })),
        ).not.toThrow();
      }
    }
    expect(
      codeOf(() => sigmoidEncouragingLoss(x(), tf.zeros([2, 3]), { negativeWeight: 1e300 })),
    ).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('negativeWeight is 1e+300') });
  });

  it('a misspelled option is INVALID_OPTION naming the nearest; checkValues never reaches core', async () => {
    await tf.setBackend('cpu');
    expect(
      codeOf(() => encouragingLoss(x(), tf.tensor([0, 1], [2], 'int32'), { logend: 0.5 } as never)),
    ).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/"logend".*logEnd/) });
    expect(() =>
      tf.dispose(encouragingLoss(x(), tf.tensor([0, 1], [2], 'int32'), { checkValues: true, logEnd: 1 })),
    ).not.toThrow();
    expect(() =>
      tf.dispose(sigmoidEncouragingLoss(x(), tf.zeros([2, 3]), { checkValues: true, positiveWeight: 2 })),
    ).not.toThrow();
  });

  it('a bad target on the fused gradient path throws and leaves no backend memory behind (wasm)', async () => {
    await tf.setBackend('wasm');
    const logits = tf.tensor(batch(4, 6, 9).logits, [4, 6]);
    const bad = tf.tensor([0, 1, 7, 2], [4], 'int32');
    const before = tf.backend().numDataIds();
    const gradOf = tf.grad((z: tf.Tensor) => encouragingLoss(z, bad));
    expect(codeOf(() => gradOf(logits))).toMatchObject({
      code: 'INVALID_TARGET',
      message: expect.stringContaining('7'),
    });
    expect(tf.backend().numDataIds()).toBe(before);
    tf.dispose([logits, bad]);
  });

  it('checks values only when asked (checkValues reads the tensors back)', async () => {
    await tf.setBackend('cpu');
    const composedApi = withImplementation('composed');
    const bad = tf.tensor([0, 5], [2], 'int32');
    // Without checkValues nothing is read: the composed ops give the out-of-range row a zero one-hot.
    expect(() => composedApi.encouragingLoss(x(), bad).dispose()).not.toThrow();
    expect(codeOf(() => composedApi.encouragingLoss(x(), bad, { checkValues: true }))).toMatchObject({
      code: 'INVALID_TARGET',
      message: expect.stringContaining('Target 5 at index 1'),
    });
    const nan = tf.tensor([
      [0, Number.NaN, 1],
      [1, 2, 3],
    ]);
    expect(
      codeOf(() => encouragingLoss(nan, tf.tensor([0, 1], [2], 'int32'), { checkValues: true })).code,
    ).toBe('NON_FINITE');
    expect(
      codeOf(() =>
        sigmoidEncouragingLoss(
          x(),
          tf.tensor([
            [0, 1, 2],
            [0, 1, 0],
          ]),
          { checkValues: true },
        ),
      ).code,
    ).toBe('INVALID_TARGET');
  });
});
