import {
  assertAllClose,
  marginRow,
  probabilityRow,
  referenceEncouragingLoss,
  roundTo,
  seededRandom,
  tolerancesFor,
} from '@encouraging-loss/conformance';
import type { EncouragingLossOptions } from '@encouraging-loss/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEncouragingLossModel } from './build-model.js';
import { decodeModel } from './onnx-proto.js';
import { int64, ort } from './test-utils.js';

// The label-smoothing graphs against the decimal reference, where the shared conformance grid (logEnd 1, 0.75,
// 0.5, 0.3) does not reach: logEnd in (0.9, 1) puts the dominant class on the tangent of the argmax path, and
// rows are built to sit on either side of logEnd, of 1/2, and at margins where 1 − p_a underflows float32.
const tolerance = tolerancesFor('float32');

async function run(logits: number[], targets: number[], K: number, options: EncouragingLossOptions) {
  const session = await ort.InferenceSession.create(buildEncouragingLossModel(options));
  const rows = targets.length;
  const data = roundTo(logits, 'float32');
  const out = await session.run({
    logits: new ort.Tensor('float32', Float32Array.from(data), [rows, K]),
    targets: new ort.Tensor('int64', int64(targets), [rows]),
  });
  await session.release();
  const reference = referenceEncouragingLoss(
    { data, shape: [rows, K] },
    { data: targets, shape: [rows] },
    'indices',
    options,
  );
  return {
    loss: Array.from(out.loss.data as Float32Array, Number),
    grad: Array.from(out.grad.data as Float32Array, Number),
    reference,
  };
}

async function expectReference(
  logits: number[],
  targets: number[],
  K: number,
  options: EncouragingLossOptions,
) {
  const { loss, grad, reference } = await run(logits, targets, K, options);
  for (const v of [...loss, ...grad]) expect(Number.isFinite(v)).toBe(true);
  assertAllClose(loss, reference.loss, tolerance, `loss ${JSON.stringify(options)}`);
  assertAllClose(grad, reference.grad, tolerance, `grad ${JSON.stringify(options)}`);
}

describe('label smoothing graphs against the decimal reference', () => {
  const K = 5;
  // Target 1 with p_y around logEnd and 1/2; target ≠ argmax; margins up to where 1 − p underflows.
  const rows = (logEnd: number) => [
    probabilityRow(K, 1, Math.min(logEnd + 0.02, 0.999)),
    probabilityRow(K, 1, logEnd - 0.02),
    probabilityRow(K, 1, 0.5),
    probabilityRow(K, 3, 0.3),
    marginRow(K, 2, 30, seededRandom(1)),
    marginRow(K, 0, 120, seededRandom(2)),
    marginRow(K, 4, -40, seededRandom(3)),
  ];
  const targets = [1, 1, 1, 3, 2, 0, 4];
  // Rows whose largest class is not the target: the dominant class's terms go to a class the targets miss.
  const otherRows = [
    marginRow(K, 2, 30, seededRandom(4)),
    marginRow(K, 2, 200, seededRandom(5)),
    probabilityRow(K, 0, 0.97),
  ];
  const otherTargets = [1, 3, 4];

  for (const logEnd of [1, 0.99, 0.95, 0.92, 0.9, 0.75, 0.5]) {
    for (const options of [
      { logEnd, labelSmoothing: 0.1, reduction: 'none' },
      { logEnd, labelSmoothing: 0.2, bonusWeight: 2.5, reduction: 'sum' },
      { logEnd, labelSmoothing: 0.1, numerics: 'reference', reduction: 'mean' },
    ] as const) {
      it(`${JSON.stringify(options)}`, async () => {
        await expectReference(rows(logEnd).flat(), targets, K, options);
        await expectReference(otherRows.flat(), otherTargets, K, options);
      });
    }
  }

  it('class weights and an ignored row (logEnd 0.5, 0.75, 0.95 and 1)', async () => {
    for (const logEnd of [0.5, 0.75, 0.95, 1]) {
      const options = {
        logEnd,
        labelSmoothing: 0.1,
        classWeights: [2, 0.5, 1, 1.5, 0.25],
        ignoreIndex: -100,
      } as const;
      await expectReference(
        [
          ...probabilityRow(K, 1, 0.97),
          ...marginRow(K, 2, 50, seededRandom(6)),
          ...probabilityRow(K, 3, 0.4),
        ],
        [1, -100, 0],
        K,
        options,
      );
    }
  });

  it('random rows: loss and gradient match the reference (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom(0.5, 3, 12, 40),
        fc.constantFrom(1, 0.97, 0.93, 0.8, 0.6),
        fc.constantFrom(0, 1, 2),
        async (classes, seed, scale, logEnd, bonusWeight) => {
          const random = seededRandom(seed);
          const logits = Array.from({ length: 3 * classes }, () => scale * (2 * random() - 1));
          const targets = Array.from({ length: 3 }, () => Math.floor(random() * classes));
          await expectReference(logits, targets, classes, {
            logEnd,
            bonusWeight,
            labelSmoothing: 0.1,
            reduction: 'sum',
          });
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('label smoothing graphs at K = 32 000 against a float64 reference', () => {
  // The row sums here are blocked float32 sums, and Σ β p comes from Σ_k 1/u_k − K: the gradient's row factor
  // may move by (B + 1)·ρ·ε ulps (docs/performance.md). Each gradient entry is p_j (1 − ρW) − q_j (1 + ρ β_j p_j):
  // with logEnd ≤ 0.9 both factors are ≤ 1 + 10ρ; with EL the dominant class a's w_a = −q_a p_a/(1 − p_a) is
  // unbounded, and p_j·ρ w_a = −ρ q_a p_a π_j with π_j = p_j/(1 − p_a) (docs/performance.md). Each entry is
  // checked within 64 ulps of the size of its terms; the loss within 64 ulps.
  const K = 32000;
  const u = 2 ** -24;
  const random = seededRandom(21);
  const rows: number[][] = [
    Array.from({ length: K }, () => 8 * random() - 4), // no class above 1/2
    Array.from({ length: K }, () => 8 * random() - 4).map((v, k) => (k === 5 ? 30 : v)), // a dominant target
    Array.from({ length: K }, () => 8 * random() - 4).map((v, k) => (k === 9 ? 25 : v)), // dominant, not the target
    Array.from({ length: K }, () => 1000 + 2 * random()), // near-uniform, offset by 1000
  ];
  const targets = [17, 5, 31999, 0];
  for (const options of [
    { logEnd: 0.75, labelSmoothing: 0.1, reduction: 'sum' },
    { logEnd: 1, labelSmoothing: 0.1, reduction: 'sum' },
    { logEnd: 0.5, labelSmoothing: 0.3, bonusWeight: 2.5, reduction: 'sum' },
  ] as const) {
    it(JSON.stringify(options), async () => {
      const { loss, grad, reference } = await run(rows.flat(), targets, K, options);
      const rho = options.bonusWeight ?? 1;
      expect(Math.abs(loss[0] - reference.loss[0])).toBeLessThanOrEqual(64 * u * Math.abs(reference.loss[0]));
      const eps = options.labelSmoothing;
      let worst = 0;
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r].map((v) => Math.fround(v));
        const max = Math.max(...row);
        const sum = row.reduce((acc, v) => acc + Math.exp(v - max), 0);
        const pMax = 1 / sum;
        const qMax = eps / K + (row[targets[r]] === max ? 1 - eps : 0);
        for (let j = 0; j < K; j++) {
          const i = r * K + j;
          const p = Math.exp(row[j] - max) / sum;
          const q = eps / K + (j === targets[r] ? 1 - eps : 0);
          const dominant = options.logEnd === 1 && pMax > 0.5 ? (rho * qMax * pMax * p) / (1 - pMax) : 0;
          const allowed = 64 * u * ((p + q) * (1 + 10 * rho) + dominant);
          worst = Math.max(worst, Math.abs(grad[i] - reference.grad[i]) / allowed);
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});

describe('label smoothing graphs: passes over [N, K]', () => {
  const opTypes = (options: EncouragingLossOptions) =>
    (decodeModel(buildEncouragingLossModel(options)).graph?.node ?? []).map((n) => n.opType);

  it('no log-softmax: one Softmax is the only exponential over [N, K]', () => {
    for (const logEnd of [0.75, 1]) {
      const ops = opTypes({ logEnd, labelSmoothing: 0.1 });
      expect(ops).not.toContain('LogSoftmax');
      expect(ops.filter((o) => o === 'Softmax')).toHaveLength(1);
      expect(ops.filter((o) => o === 'ReduceProd')).toHaveLength(1);
      // The gradient's entries at the target (and at the argmax for EL) are written by one ScatterElements; EL's
      // other one masks the argmax out of the softmax.
      expect(ops.filter((o) => o === 'ScatterElements')).toHaveLength(logEnd === 1 ? 2 : 1);
    }
  });

  it('no float64 pass over [N, K]: row sums of one sign are blocked float32 sums', () => {
    for (const logEnd of [0.75, 1]) {
      const nodes = decodeModel(buildEncouragingLossModel({ logEnd, labelSmoothing: 0.1 })).graph?.node ?? [];
      const producer = new Map(nodes.flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
      // Casts to float64 only of row-sized values (block sums, K, the loss sum), never of the logits.
      const toDouble = nodes.filter((n) => n.opType === 'Cast' && n.attribute?.[0]?.i === 11);
      expect(toDouble.some((n) => n.input?.[0] === 'logits')).toBe(false);
      // Σ (z − max) is summed from the difference (AveragePool ← Reshape ← Sub(logits, row max)); the other
      // blocked sum is Σ_k ρb/u_k, from which the gradient's row factor takes Σ β p.
      const pools = nodes.filter((n) => n.opType === 'AveragePool');
      expect(pools).toHaveLength(2);
      const summed = pools.map((pool) => producer.get(producer.get(pool.input?.[0] ?? '')?.input?.[0] ?? ''));
      expect(summed.filter((n) => n?.opType === 'Sub' && n.input?.[0] === 'logits')).toHaveLength(1);
    }
  });
});
