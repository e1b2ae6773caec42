import { assertAllClose, referenceEncouragingLoss, tolerancesFor } from '@encouraging-loss/conformance';
import { isEncouragingLossError } from '@encouraging-loss/core';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { appendEncouragingLoss } from './append-loss.js';
import { int64, linearModel } from './test-utils.js';
import { EncouragingLossSession } from './web-session.js';

describe('in Chromium (wasm EP)', () => {
  it('runs in a real browser', () => {
    expect(typeof window).toBe('object');
    expect(navigator.userAgent).toMatch(/Chrome/);
  });

  it('a session runs batch sizes 1, 7 and ranks 2, 3 with one graph', async () => {
    const session = await EncouragingLossSession.create({ logEnd: 0.5 }, { executionProviders: ['wasm'] });
    for (const shape of [[1], [7], [2, 3]]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const logits = Float32Array.from({ length: size * 4 }, (_, i) => Math.fround(Math.sin(i) * 3));
      const targets = Int32Array.from({ length: size }, (_, i) => i % 4);
      const { loss, grad } = await session.run(
        new ort.Tensor('float32', logits, [...shape, 4]),
        new ort.Tensor('int64', int64(targets), shape),
      );
      const reference = referenceEncouragingLoss(
        { data: logits, shape: [...shape, 4] },
        { data: targets, shape },
        'indices',
        { logEnd: 0.5 },
      );
      assertAllClose(Array.from(loss.data as Float32Array), reference.loss, tolerancesFor('float32'), 'loss');
      assertAllClose(Array.from(grad.data as Float32Array), reference.grad, tolerancesFor('float32'), 'grad');
    }
    const error = await session
      .run(
        new ort.Tensor('float32', new Float32Array(8), [2, 4]),
        new ort.Tensor('int64', int64([0, 4]), [2]),
      )
      .catch((e: unknown) => e);
    expect(isEncouragingLossError(error) && error.code).toBe('INVALID_TARGET');
    await session.release();
  });

  it('scores a model with the loss appended', async () => {
    const bytes = appendEncouragingLoss(linearModel(17), {
      logitsOutput: 'logits',
      outputs: ['loss', 'grad'],
    });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.from([1, 0, -1, 2]), [1, 4]),
      targets: new ort.Tensor('int64', int64([3]), [1]),
    });
    const reference = referenceEncouragingLoss(
      { data: Float64Array.from(out.logits.data as Float32Array), shape: [1, 6] },
      { data: Int32Array.from([3]), shape: [1] },
      'indices',
      {},
    );
    assertAllClose(
      Array.from(out.loss.data as Float32Array),
      reference.loss,
      tolerancesFor('float32'),
      'loss',
    );
  });
});
