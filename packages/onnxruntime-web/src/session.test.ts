import {
  assertAllClose,
  referenceEncouragingLoss,
  roundTo,
  seededRandom,
  tolerancesFor,
} from '@encouraging-loss/conformance';
import { encouragingLossWithGrad as coreLossWithGrad, isEncouragingLossError } from '@encouraging-loss/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int64, ort } from './test-utils.js';
import { EncouragingLossSession } from './web-session.js';

const tolerance = tolerancesFor('float32');
const K = 5;
const options = { logEnd: 0.75, labelSmoothing: 0 } as const;

function batch(shape: number[], seed: number) {
  const random = seededRandom(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const logits = roundTo(
    Array.from({ length: size * K }, () => 4 * (2 * random() - 1)),
    'float32',
  );
  const targets = Int32Array.from({ length: size }, (_, i) =>
    i % 11 === 3 ? -100 : Math.floor(random() * K),
  );
  return { logits, targets };
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isEncouragingLossError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  expect((error as Error).message).toMatch(message);
}

describe('EncouragingLossSession', () => {
  let session: EncouragingLossSession;
  beforeAll(async () => {
    session = await EncouragingLossSession.create(options, { executionProviders: ['wasm'] });
  });
  afterAll(() => session.release());

  // One session (one graph per targets dtype) for every batch size and for ranks 2 and 3.
  for (const shape of [[1], [7], [4096], [3, 7], [2, 1]]) {
    it(`runs batch shape [${shape.join(', ')}] without rebuilding`, async () => {
      const { logits, targets } = batch(shape, shape.length * 100 + shape[0]);
      const reference = referenceEncouragingLoss(
        { data: logits, shape: [...shape, K] },
        { data: targets, shape },
        'indices',
        options,
      );
      for (const targetsTensor of [
        new ort.Tensor('int64', int64(targets), shape),
        new ort.Tensor('int32', Int32Array.from(targets), shape),
      ]) {
        const { loss, grad } = await session.run(
          new ort.Tensor('float32', Float32Array.from(logits), [...shape, K]),
          targetsTensor,
        );
        expect(loss.dims).toEqual([]);
        expect(grad.dims).toEqual([...shape, K]);
        assertAllClose(Array.from(loss.data as Float32Array), reference.loss, tolerance, 'loss');
        assertAllClose(Array.from(grad.data as Float32Array), reference.grad, tolerance, 'grad');
      }
      // [4096] spends ~25 s in the decimal reference on an idle 2-core machine: no wall-clock limit that a
      // busy machine could hit.
    }, 600_000);
  }

  it("reduction 'none' keeps the batch shape of any rank", async () => {
    const none = await EncouragingLossSession.create({ reduction: 'none', logEnd: 1 });
    for (const shape of [[4], [2, 3]]) {
      const { logits, targets } = batch(shape, 9);
      const { loss, grad } = await none.run(
        new ort.Tensor('float32', Float32Array.from(logits), [...shape, K]),
        new ort.Tensor('int64', int64(targets), shape),
      );
      const reference = referenceEncouragingLoss(
        { data: logits, shape: [...shape, K] },
        { data: targets, shape },
        'indices',
        { reduction: 'none', logEnd: 1 },
      );
      expect(loss.dims).toEqual(shape);
      assertAllClose(Array.from(loss.data as Float32Array), reference.loss, tolerance, 'loss');
      assertAllClose(Array.from(grad.data as Float32Array), reference.grad, tolerance, 'grad');
    }
    await none.release();
  });

  it('accepts tensors that are not instances of this copy of ort.Tensor', async () => {
    const { logits, targets } = batch([3], 4);
    // Plain { dims, type, data } objects, as another copy of onnxruntime-common would make them.
    const out = await session.run(
      { dims: [3, K], type: 'float32', data: Float32Array.from(logits) },
      { dims: [3], type: 'int64', data: int64(targets) },
    );
    const reference = referenceEncouragingLoss(
      { data: logits, shape: [3, K] },
      { data: targets, shape: [3] },
      'indices',
      options,
    );
    assertAllClose(Array.from(out.loss.data as Float32Array), reference.loss, tolerance, 'loss');
  });

  describe('bad inputs give EncouragingLossError before ORT runs', () => {
    const logits = new ort.Tensor('float32', new Float32Array(2 * K), [2, K]);
    const targets = new ort.Tensor('int64', int64([0, 1]), [2]);
    it('wrong logits dtype', () =>
      expectError(
        session.run(new ort.Tensor('float64', new Float64Array(2 * K), [2, K]) as ort.Tensor, targets),
        'INVALID_DTYPE',
        /float32.*float64/,
      ));
    it('wrong targets dtype', () =>
      expectError(
        session.run(logits, new ort.Tensor('float32', new Float32Array(2), [2])),
        'INVALID_DTYPE',
        /int64 or int32/,
      ));
    it('targets of the wrong rank', () =>
      expectError(
        session.run(logits, new ort.Tensor('int64', int64([0, 1]), [1, 2])),
        'INVALID_SHAPE',
        /\[1, 2\].*\[2, 5\]/,
      ));
    it('targets of the wrong batch size', () =>
      expectError(
        session.run(logits, new ort.Tensor('int64', int64([0, 1, 2]), [3])),
        'INVALID_SHAPE',
        /\[3\]/,
      ));
    it('K = 1', () =>
      expectError(
        session.run(new ort.Tensor('float32', new Float32Array(2), [2, 1]), targets),
        'INVALID_SHAPE',
        /K >= 2/,
      ));
    it('an out-of-range target', () =>
      expectError(
        session.run(logits, new ort.Tensor('int64', int64([0, 5]), [2])),
        'INVALID_TARGET',
        /Target 5 at index 1/,
      ));
    it('a negative target that is not ignoreIndex', () =>
      expectError(
        session.run(logits, new ort.Tensor('int32', Int32Array.from([-1, 0]), [2])),
        'INVALID_TARGET',
        /Target -1 at index 0/,
      ));
    it('a non-finite logit', () => {
      const data = new Float32Array(2 * K);
      data[7] = Number.NaN;
      return expectError(
        session.run(new ort.Tensor('float32', data, [2, K]), targets),
        'NON_FINITE',
        /index 7/,
      );
    });
    it('K not matching classWeights', async () => {
      const weighted = await EncouragingLossSession.create({ classWeights: [1, 2, 3] });
      await expectError(
        weighted.run(logits, targets),
        'INVALID_OPTION',
        /classWeights has length 3, expected K = 5/,
      );
      await weighted.release();
    });
    it('not a tensor', () =>
      expectError(
        session.run({ data: [] } as unknown as ort.Tensor, targets),
        'INVALID_SHAPE',
        /ort.Tensor/,
      ));
    it('a bad option at create', () =>
      expectError(EncouragingLossSession.create({ logEnd: 1.5 }), 'INVALID_OPTION', /logEnd/));
    it('a misspelled option at create (only loss options go to core; session options are their own argument)', () =>
      expectError(
        EncouragingLossSession.create({ logend: 0.1 } as never, { executionProviders: ['wasm'] }),
        'INVALID_OPTION',
        /"logend".*logEnd/,
      ));
    it('session options in the loss options slot', () =>
      expectError(
        EncouragingLossSession.create({ executionProviders: ['wasm'] } as never),
        'INVALID_OPTION',
        /"executionProviders"/,
      ));
    it('weights beyond float32 at create', async () => {
      await expectError(
        EncouragingLossSession.create({ classWeights: [1, 1e308, 1] }),
        'INVALID_OPTION',
        /classWeights\[1\] is 1e\+308, beyond float32/,
      );
      await expectError(
        EncouragingLossSession.create({ bonusWeight: 1e39 }),
        'INVALID_OPTION',
        /bonusWeight is 1e\+39, beyond float32/,
      );
    });
    it('K = 0, with or without examples', async () => {
      for (const [logitsShape, targetsShape] of [
        [[0, 0], [0]],
        [[2, 0], [2]],
        [
          [2, 0, 0],
          [2, 0],
        ],
      ]) {
        await expectError(
          session.run(
            new ort.Tensor('float32', new Float32Array(0), logitsShape),
            new ort.Tensor('int64', new BigInt64Array(targetsShape.reduce((a, b) => a * b, 1)), targetsShape),
          ),
          'INVALID_SHAPE',
          /K >= 2 classes on the last axis, got K = 0/,
        );
      }
    });
  });

  describe('an empty batch runs (no ORT run: its TopK divides by zero there)', () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      it(`reduction '${reduction}': loss ${reduction === 'none' ? 'of the empty batch shape' : '0'}, an empty gradient, as core`, async () => {
        const empty = await EncouragingLossSession.create({ reduction, classWeights: [1, 2, 3] });
        for (const batchShape of [[0], [2, 0], [0, 4]]) {
          const logitsShape = [...batchShape, 3];
          const logits = new ort.Tensor('float32', new Float32Array(0), logitsShape);
          for (const targets of [
            new ort.Tensor('int64', new BigInt64Array(0), batchShape),
            new ort.Tensor('int32', new Int32Array(0), batchShape),
            new ort.Tensor('float32', new Float32Array(0), logitsShape),
          ]) {
            const { loss, grad } = await empty.run(logits, targets);
            expect(loss.dims).toEqual(reduction === 'none' ? batchShape : []);
            expect(Array.from(loss.data as Float32Array)).toEqual(reduction === 'none' ? [] : [0]);
            expect(grad.dims).toEqual(logitsShape);
            expect(grad.data).toEqual(new Float32Array(0));
            const expected = coreLossWithGrad(
              { data: new Float32Array(0), shape: logitsShape },
              {
                data: targets.type === 'float32' ? new Float32Array(0) : new Int32Array(0),
                shape: [...targets.dims],
              },
              { reduction, classWeights: [1, 2, 3] },
            );
            expect(loss.dims).toEqual(expected.loss.shape);
            expect(Array.from(loss.data as Float32Array)).toEqual(Array.from(expected.loss.data));
          }
        }
        // Inputs are still checked: a target in an empty batch cannot be wrong, but the dtype can.
        await expectError(
          empty.run(
            new ort.Tensor('float32', new Float32Array(0), [0, 3]),
            new ort.Tensor('float32', new Float32Array(0), [0]),
          ),
          'INVALID_DTYPE',
          /int64 or int32/,
        );
        await empty.release();
      });
    }
  });
});
