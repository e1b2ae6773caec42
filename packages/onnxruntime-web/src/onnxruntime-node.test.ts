import { createRequire } from 'node:module';
import {
  assertAllClose,
  referenceEncouragingLoss,
  referenceSigmoidEncouragingLoss,
  roundTo,
  seededRandom,
  tolerancesFor,
} from '@encouraging-loss/conformance';
import { describe, expect, it } from 'vitest';
import { appendEncouragingLoss } from './append-loss.js';
import { buildEncouragingLossModel, buildSigmoidEncouragingLossModel } from './build-model.js';
import { int64, linearModel } from './test-utils.js';

// onnxruntime-node is CommonJS with its CPU binary inside the package (its postinstall, which fetches GPU
// files, is disabled).
const ortNode = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-web');
const tolerance = tolerancesFor('float32');

describe('models load and agree in onnxruntime-node (native CPU EP)', () => {
  const K = 7;
  const random = seededRandom(8);
  for (const options of [
    { logEnd: 0.75 },
    { logEnd: 1, labelSmoothing: 0.1, reduction: 'sum' as const },
    { logEnd: 0.3, numerics: 'reference' as const, classWeights: [1, 2, 0.5, 1, 1, 3, 1] },
  ]) {
    it(`buildEncouragingLossModel ${JSON.stringify(options)}`, async () => {
      const session = await ortNode.InferenceSession.create(
        buildEncouragingLossModel(options, { outputs: ['loss', 'grad', 'perExample', 'components'] }),
      );
      for (const shape of [[3], [2, 4]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const logits = roundTo(
          Array.from({ length: size * K }, () => 5 * (2 * random() - 1)),
          'float32',
        );
        const targets = Int32Array.from({ length: size }, (_, i) => (i === 1 ? -100 : (i * 3) % K));
        const out = await session.run({
          logits: new ortNode.Tensor('float32', Float32Array.from(logits), [...shape, K]),
          targets: new ortNode.Tensor('int64', int64(targets), shape),
        });
        const l = { data: logits, shape: [...shape, K] };
        const t = { data: targets, shape };
        const reference = referenceEncouragingLoss(l, t, 'indices', options);
        const none = referenceEncouragingLoss(l, t, 'indices', { ...options, reduction: 'none' });
        assertAllClose(Array.from(out.loss.data as Float32Array), reference.loss, tolerance, 'loss');
        assertAllClose(Array.from(out.grad.data as Float32Array), reference.grad, tolerance, 'grad');
        assertAllClose(Array.from(out.perExample.data as Float32Array), none.loss, tolerance, 'perExample');
        assertAllClose(
          Array.from(out.crossEntropy.data as Float32Array),
          reference.crossEntropy,
          tolerance,
          'ce',
        );
        assertAllClose(Array.from(out.bonus.data as Float32Array), reference.bonus, tolerance, 'bonus');
      }
    });
  }

  it('the sigmoid model runs too', async () => {
    const session = await ortNode.InferenceSession.create(buildSigmoidEncouragingLossModel({ logEnd: 0.5 }));
    const logits = roundTo([3, -2, 0.5, 40, -1, 2], 'float32');
    const targets = Float64Array.from([1, 0, -100, 1, 1, 0]);
    const out = await session.run({
      logits: new ortNode.Tensor('float32', Float32Array.from(logits), [2, 3]),
      targets: new ortNode.Tensor('float32', Float32Array.from(targets), [2, 3]),
    });
    const reference = referenceSigmoidEncouragingLoss(
      { data: logits, shape: [2, 3] },
      { data: targets },
      { logEnd: 0.5 },
    );
    assertAllClose(Array.from(out.loss.data as Float32Array), reference.loss, tolerance, 'loss');
    assertAllClose(Array.from(out.grad.data as Float32Array), reference.grad, tolerance, 'grad');
  });

  it('an appended model runs too', async () => {
    const session = await ortNode.InferenceSession.create(
      appendEncouragingLoss(linearModel(17), { logitsOutput: 'logits', outputs: ['loss', 'grad'] }),
    );
    const out = await session.run({
      x: new ortNode.Tensor('float32', Float32Array.from([1, -2, 0.5, 3, 0, 1, 1, -1]), [2, 4]),
      targets: new ortNode.Tensor('int64', int64([2, 5]), [2]),
    });
    const logits = { data: Float64Array.from(out.logits.data as Float32Array), shape: [2, 6] };
    const reference = referenceEncouragingLoss(
      logits,
      { data: Int32Array.from([2, 5]), shape: [2] },
      'indices',
      {},
    );
    assertAllClose(Array.from(out.loss.data as Float32Array), reference.loss, tolerance, 'loss');
    expect(out.grad.dims).toEqual([2, 6]);
  });
});
