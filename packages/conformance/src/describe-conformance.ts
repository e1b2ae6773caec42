import {
  composedLog1p,
  composedLogSoftmax,
  composedLogSumExp,
  composedSumLog,
  type EncouragingLossOptions,
  type TensorOps,
} from '@encouraging-loss/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConformanceAdapter, ConformanceCase, ConformanceTensor, OpsHarness } from './adapter.js';
import {
  featureCases,
  largeVocabularyCases,
  type NamedCase,
  optionGridCases,
  probabilityRow,
  regionCases,
  roundTo,
  seededRandom,
  sigmoidCases,
} from './cases.js';
import { assertAllClose, type Tolerance, tolerancesFor } from './close.js';
import { referenceEncouragingLoss, referenceSigmoidEncouragingLoss } from './reference.js';

const values = (t: ConformanceTensor) => Array.from(t.data, Number);

function checkShape(actual: ConformanceTensor, expected: readonly number[], what: string) {
  expect([...actual.shape], `${what} shape`).toEqual([...expected]);
}

async function compareToReference(
  adapter: ConformanceAdapter,
  testCase: ConformanceCase,
  tolerance: Tolerance,
) {
  const reference = referenceEncouragingLoss(
    testCase.logits,
    testCase.targets,
    testCase.targetType,
    testCase.options,
  );
  const { loss, grad } = await adapter.lossWithGrad(testCase);
  checkShape(loss, reference.lossShape, 'loss');
  checkShape(grad, testCase.logits.shape, 'grad');
  assertAllClose(values(loss), reference.loss, tolerance, 'loss');
  assertAllClose(values(grad), reference.grad, tolerance, 'grad');
  if (adapter.loss) {
    const alone = await adapter.loss(testCase);
    checkShape(alone, reference.lossShape, 'loss()');
    assertAllClose(values(alone), reference.loss, tolerance, 'loss()');
  }
  return { loss: values(loss), grad: values(grad) };
}

/**
 * Registers the conformance suite for one backend with vitest: every option combination, [N, K] and [B, T, V]
 * shapes, the log / tangent / clamp regions, margins up to 1000, K = 32 000, ignored and all-ignored batches,
 * soft targets and input kinds, loss components, the sigmoid variant, continuity at logEnd, zero-sum gradient
 * rows, shift invariance, finite differences and each fused override against the composed math.
 *
 * Reference values come from {@link referenceEncouragingLoss} (decimal arithmetic from the definitions), never
 * from the code under test. Tolerances follow `adapter.precision`.
 *
 * @example
 * ```ts
 * // my-backend.test.ts
 * import { describeConformance } from '@encouraging-loss/conformance';
 * describeConformance({ name: 'my-backend', precision: 'float32', lossWithGrad: (c) => run(c) });
 * ```
 */
export function describeConformance<T>(adapter: ConformanceAdapter<T>): void {
  const tolerance = tolerancesFor(adapter.precision);
  const expectedFailures = new Map(Object.entries(adapter.expectedFailures ?? {}));
  const timeout = adapter.timeout ?? 120_000;
  const seen = new Set<string>();

  // Titles are `group > case`; each group hands its own `test` to its body, so titles never depend on the
  // order in which vitest collects the bodies.
  type TestFn = (title: string, body: () => Promise<void> | void) => void;
  const register = (groupTitle: string, title: string, body: () => Promise<void> | void) => {
    const full = `${groupTitle} > ${title}`;
    seen.add(full);
    if (expectedFailures.has(full)) {
      // Strict: `it.fails` passes only while the case still fails.
      it.fails(`${title} [expected failure: ${expectedFailures.get(full)}]`, body, timeout);
    } else {
      it(title, body, timeout);
    }
  };
  const group = (title: string, body: (test: TestFn) => void) => {
    describe(title, () => body((name, fn) => register(title, name, fn)));
  };

  const referenceGroup = (title: string, cases: NamedCase[]) =>
    group(title, (test) => {
      for (const { name, testCase } of cases)
        test(name, async () => void (await compareToReference(adapter, testCase, tolerance)));
    });

  describe(`conformance: ${adapter.name}`, () => {
    referenceGroup('option grid', optionGridCases(adapter.precision));
    referenceGroup('features', featureCases(adapter.precision));
    referenceGroup('regions and margins', regionCases(adapter.precision));
    referenceGroup('large vocabulary', largeVocabularyCases(adapter.precision));

    group('margins', (test) => {
      for (const precisionMargin of [20, 40, 80, 200, 1000]) {
        test(`EL without a floor: target gradient is -1 and finite at margin ${precisionMargin}`, async () => {
          const K = 6;
          const logits = roundTo(
            Array.from({ length: 2 * K }, (_, j) => (j % K === 2 ? precisionMargin : (j % K) * 0.1)),
            adapter.precision,
          );
          const { loss, grad } = await adapter.lossWithGrad({
            logits: { data: logits, shape: [2, K] },
            targets: { data: Int32Array.from([2, 2]), shape: [2] },
            targetType: 'indices',
            options: { logEnd: 1, bonusFloor: 0, reduction: 'sum' },
          });
          for (const v of [...values(loss), ...values(grad)]) expect(Number.isFinite(v)).toBe(true);
          const g = values(grad);
          expect(g[2]).toBeCloseTo(-1, 5);
          expect(g[K + 2]).toBeCloseTo(-1, 5);
          // Non-target gradients are p_j / (1 − p_y): a distribution over the other classes.
          const others = g.slice(0, K).filter((_, j) => j !== 2);
          expect(others.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        });
        test(`EL with the default floor is bounded at margin ${precisionMargin}`, async () => {
          // Past 1 − p < 1e-5 the bonus is log 1e-5 with zero derivative: the loss is −log p_y + log 1e-5 ≥
          // log 1e-5 per row, and the gradient is cross-entropy's, p_j − δ_jy (its target entry −(1 − p_y) → 0).
          const K = 6;
          const logits = roundTo(
            Array.from({ length: 2 * K }, (_, j) => (j % K === 2 ? precisionMargin : (j % K) * 0.1)),
            adapter.precision,
          );
          const { loss, grad } = await adapter.lossWithGrad({
            logits: { data: logits, shape: [2, K] },
            targets: { data: Int32Array.from([2, 2]), shape: [2] },
            targetType: 'indices',
            options: { logEnd: 1, reduction: 'none' },
          });
          for (const v of [...values(loss), ...values(grad)]) expect(Number.isFinite(v)).toBe(true);
          for (const rowLoss of values(loss)) {
            expect(rowLoss).toBeGreaterThanOrEqual(Math.log(1e-5) - tolerance.atol);
            expect(rowLoss).toBeLessThanOrEqual(Math.log(1e-5) + 1e-5 + tolerance.atol * 12);
          }
          const g = values(grad);
          for (const v of g) expect(Math.abs(v)).toBeLessThanOrEqual(1e-5 + tolerance.atol);
        });
      }
    });

    group('properties', (test) => {
      const arbitraryCase = fc
        .record({
          rows: fc.integer({ min: 1, max: 4 }),
          K: fc.integer({ min: 2, max: 6 }),
          seed: fc.integer({ min: 0, max: 1_000_000 }),
          scale: fc.constantFrom(0.5, 3, 12),
          logEnd: fc.constantFrom(1, 0.75, 0.5, 0.2),
          bonusWeight: fc.constantFrom(0, 1, 2),
          labelSmoothing: fc.constantFrom(0, 0.1),
        })
        .map(({ rows, K, seed, scale, logEnd, bonusWeight, labelSmoothing }) => {
          const random = seededRandom(seed);
          const logits = Array.from({ length: rows * K }, () => scale * (2 * random() - 1));
          const targets = Int32Array.from({ length: rows }, () => Math.floor(random() * K));
          const options: EncouragingLossOptions = { logEnd, bonusWeight, labelSmoothing, reduction: 'sum' };
          return { rows, K, logits, targets, options };
        });
      const runs = { numRuns: adapter.precision === 'float64' ? 60 : 25 };

      test('gradient rows sum to zero', async () => {
        await fc.assert(
          fc.asyncProperty(arbitraryCase, async ({ rows, K, logits, targets, options }) => {
            const { grad } = await adapter.lossWithGrad({
              logits: { data: roundTo(logits, adapter.precision), shape: [rows, K] },
              targets: { data: targets, shape: [rows] },
              targetType: 'indices',
              options,
            });
            const g = values(grad);
            for (let r = 0; r < rows; r++) {
              const row = g.slice(r * K, r * K + K);
              const scale = Math.max(1, ...row.map(Math.abs));
              expect(Math.abs(row.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(
                tolerance.atol * scale * K,
              );
            }
          }),
          runs,
        );
      });

      test('shifting a row of logits leaves loss and gradient unchanged', async () => {
        await fc.assert(
          fc.asyncProperty(
            arbitraryCase,
            fc.constantFrom(-7, 3.5, 64),
            async ({ rows, K, logits, targets, options }, shift) => {
              const run = (data: number[]) =>
                adapter.lossWithGrad({
                  logits: { data: roundTo(data, adapter.precision), shape: [rows, K] },
                  targets: { data: targets, shape: [rows] },
                  targetType: 'indices',
                  options,
                });
              // Shifts that are exact in float32 too: logits are rounded first, then shifted by a power-of-two multiple.
              const base = Array.from(roundTo(logits, adapter.precision));
              const a = await run(base);
              const b = await run(base.map((v) => v + shift));
              const relaxed = { rtol: tolerance.rtol * 40, atol: tolerance.atol * 40 };
              assertAllClose(values(b.loss), values(a.loss), relaxed, 'shifted loss');
              assertAllClose(values(b.grad), values(a.grad), relaxed, 'shifted grad');
            },
          ),
          runs,
        );
      });

      test('the loss is continuous at logEnd and the bonus bounded by its tangent', async () => {
        for (const logEnd of [0.75, 0.5, 0.3]) {
          const K = 4;
          const delta = adapter.precision === 'float64' ? 1e-9 : 1e-4;
          const rows = [logEnd - delta, logEnd + delta].map((p) => probabilityRow(K, 0, p));
          const { loss } = await adapter.lossWithGrad({
            logits: { data: roundTo(rows.flat(), adapter.precision), shape: [2, K] },
            targets: { data: Int32Array.from([0, 0]), shape: [2] },
            targetType: 'indices',
            options: { logEnd, reduction: 'none' },
          });
          const [below, above] = values(loss);
          // |ℓ(p+) − ℓ(p−)| ≈ |dℓ/dp| · 2δ, with |dℓ/dp| ≤ 1/p + 1/(1 − logEnd).
          const bound = 2 * delta * (1 / logEnd + 1 / (1 - logEnd)) * 1.5 + tolerance.atol * 10;
          expect(Math.abs(above - below)).toBeLessThanOrEqual(bound);
        }
      });

      test('bonusWeight 0 gives plain cross-entropy', async () => {
        await fc.assert(
          fc.asyncProperty(arbitraryCase, async ({ rows, K, logits, targets, options }) => {
            const data = roundTo(logits, adapter.precision);
            const { loss, grad } = await adapter.lossWithGrad({
              logits: { data, shape: [rows, K] },
              targets: { data: targets, shape: [rows] },
              targetType: 'indices',
              options: { ...options, bonusWeight: 0 },
            });
            // Cross-entropy and its gradient (q − p sign), computed here in float64 from the definition.
            let ce = 0;
            const expected: number[] = [];
            const eps = options.labelSmoothing ?? 0;
            for (let r = 0; r < rows; r++) {
              const row = Array.from(data.slice(r * K, r * K + K));
              const max = Math.max(...row);
              const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
              row.forEach((z, k) => {
                const q = eps / K + (k === targets[r] ? 1 - eps : 0);
                ce -= q * (z - lse);
                expected.push(Math.exp(z - lse) - q);
              });
            }
            assertAllClose(values(loss), [ce], tolerance, 'cross-entropy');
            assertAllClose(values(grad), expected, tolerance, 'cross-entropy grad');
          }),
          runs,
        );
      });

      test('the loss matches central finite differences of itself', async () => {
        const random = seededRandom(11);
        const K = 4;
        const logits = Array.from({ length: 3 * K }, () => 2 * (2 * random() - 1));
        const targets = Int32Array.from([1, 3, 0]);
        for (const options of [
          { logEnd: 1 },
          { logEnd: 0.5, labelSmoothing: 0.1 },
          { logEnd: 0.75 },
        ] as const) {
          const base = {
            targets: { data: targets, shape: [3] },
            targetType: 'indices' as const,
            options: { ...options, reduction: 'sum' as const },
          };
          const point = Array.from(roundTo(logits, 'float64'));
          const { grad } = await adapter.lossWithGrad({
            ...base,
            logits: { data: Float64Array.from(point), shape: [3, K] },
          });
          // Steps sized for the precision: float32 losses carry ~1e-7 relative noise.
          const h = adapter.precision === 'float64' ? 1e-6 : 1e-2;
          for (let i = 0; i < point.length; i++) {
            const at = async (d: number) => {
              const shifted = point.slice();
              shifted[i] += d;
              const out = await adapter.lossWithGrad({
                ...base,
                logits: { data: roundTo(shifted, adapter.precision), shape: [3, K] },
              });
              return values(out.loss)[0];
            };
            const fd = ((await at(h)) - (await at(-h))) / (2 * h);
            const g = values(grad)[i];
            expect(Math.abs(fd - g)).toBeLessThanOrEqual(adapter.precision === 'float64' ? 1e-7 : 2e-3);
          }
        }
      });
    });

    // A member the adapter leaves out is a visible skip, never a silent one.
    const notGiven = (member: string, what: string) =>
      it.skip(`${what} (not run: the adapter gives no \`${member}\`)`, () => {});
    if (!adapter.components) notGiven('components', 'components');
    if (!adapter.sigmoidLossWithGrad) notGiven('sigmoidLossWithGrad', 'sigmoid');
    if (!adapter.ops) notGiven('ops', 'primitives and fused overrides');

    if (adapter.components) {
      const components = adapter.components.bind(adapter);
      group('components', (test) => {
        for (const { name, testCase } of [
          ...featureCases(adapter.precision).slice(0, 6),
          ...regionCases(adapter.precision).slice(0, 10),
        ]) {
          test(name, async () => {
            const reference = referenceEncouragingLoss(
              testCase.logits,
              testCase.targets,
              testCase.targetType,
              testCase.options,
            );
            const out = await components(testCase);
            assertAllClose(values(out.loss), reference.loss, tolerance, 'loss');
            assertAllClose(values(out.crossEntropy), reference.crossEntropy, tolerance, 'crossEntropy');
            assertAllClose(values(out.bonus), reference.bonus, tolerance, 'bonus');
          });
        }
      });
    }

    if (adapter.sigmoidLossWithGrad) {
      const sigmoid = adapter.sigmoidLossWithGrad.bind(adapter);
      group('sigmoid', (test) => {
        for (const { name, testCase } of sigmoidCases(adapter.precision)) {
          test(name, async () => {
            const reference = referenceSigmoidEncouragingLoss(
              testCase.logits,
              testCase.targets,
              testCase.options,
            );
            const { loss, grad } = await sigmoid(testCase);
            checkShape(loss, reference.lossShape, 'loss');
            assertAllClose(values(loss), reference.loss, tolerance, 'loss');
            assertAllClose(values(grad), reference.grad, tolerance, 'grad');
          });
        }
      });
    }

    if (adapter.ops) {
      const harness = adapter.ops;
      group('primitives', (test) => describePrimitives(harness, tolerance, test));
      group('fused overrides', (test) => describeOverrides(harness, tolerance, test));
    }

    it('expectedFailures names only cases that exist', () => {
      const unknown = [...expectedFailures.keys()].filter((title) => !seen.has(title));
      expect(unknown, 'expectedFailures entries that match no case').toEqual([]);
    });
  });
}

/**
 * Contract rules that the loss cases cannot see on every backend: an out-of-range `oneHot` index (wrapped by many
 * frameworks' one-hot) and a last-axis sum that loses the tail of a large vocabulary when it accumulates in
 * float32.
 */
function describePrimitives<T>(
  harness: OpsHarness<T>,
  tolerance: Tolerance,
  test: (title: string, body: () => Promise<void> | void) => void,
) {
  const { ops } = harness;
  const scoped = <R>(fn: () => R): R => (ops.scope ? ops.scope(fn) : fn());

  test('oneHot gives an all-false row for an index outside [0, K) (no wrapping of negative indices)', async () => {
    const K = 4;
    const indices = [2, -1, -100, K, 0, -K, 3];
    const like = harness.fromArray(new Array(indices.length * K).fill(0), [indices.length, K], 'float');
    const mask = await harness.toArray(
      scoped(() => ops.oneHot(harness.fromArray(indices, [indices.length], 'int'), like)),
    );
    expect([...mask.shape]).toEqual([indices.length, K]);
    const expected = indices.flatMap((y) => Array.from({ length: K }, (_, k) => (k === y ? 1 : 0)));
    expect(values(mask).map((v) => (v ? 1 : 0))).toEqual(expected);
  });

  test('sumLastAxis keeps the tail of K = 32 000 classes (no plain float32 accumulation)', async () => {
    // Row 0 is exp(z − max) of a confident prediction: the top class 1, 31 999 classes at 2⁻²⁵ each. A float32
    // running sum drops every one of them (2⁻²⁵ is below half an ulp of 1): 1 instead of 1.000954, an error of
    // 9.5e-4. Pairwise, Kahan or float64 accumulation keep them. Row 1: 32 000 equal values, 2⁻¹⁵ each.
    const K = 32_000;
    const data = new Array<number>(2 * K);
    for (let k = 0; k < K; k++) {
      data[k] = k === 0 ? 1 : 2 ** -25;
      data[K + k] = 2 ** -15;
    }
    const sum = await harness.toArray(
      scoped(() => ops.sumLastAxis(harness.fromArray(data, [2, K], 'float'))),
    );
    expect([...sum.shape]).toEqual([2, 1]);
    // Both sums are exact in binary: 1 + 31 999 · 2⁻²⁵ and 32 000 · 2⁻¹⁵.
    assertAllClose(values(sum), [1 + 31_999 * 2 ** -25, 32_000 * 2 ** -15], tolerance, 'sumLastAxis');
  });
}

/** Hides one optional member of a TensorOps object, so core falls back to its composed version. */
type FusedMember = 'log1p' | 'logSumExp' | 'logSoftmax' | 'sumLogLastAxis';

function without<T>(ops: TensorOps<T>, member: FusedMember): TensorOps<T> {
  return new Proxy(ops, {
    get: (target, property, receiver) => {
      if (property === member || (member === 'logSoftmax' && property === 'logSumExp')) return undefined;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    has: (target, property) => property !== member && Reflect.has(target, property),
  });
}

function describeOverrides<T>(
  harness: OpsHarness<T>,
  tolerance: Tolerance,
  test: (title: string, body: () => Promise<void> | void) => void,
) {
  const { ops } = harness;
  const random = seededRandom(21);
  const shape = [3, 7];
  const data = Array.from({ length: 21 }, () => 30 * (2 * random() - 1));
  data[5] = 85;
  const scoped = <R>(fn: () => R): R => (ops.scope ? ops.scope(fn) : fn());
  const compare = async (
    member: FusedMember,
    compute: (o: TensorOps<T>, x: T) => T,
    input: number[],
    inputShape: number[],
  ) => {
    const x = harness.fromArray(input, inputShape, 'float');
    const fused = await harness.toArray(scoped(() => compute(ops, x)));
    const composed = await harness.toArray(scoped(() => compute(without(ops, member), x)));
    expect([...fused.shape]).toEqual([...composed.shape]);
    assertAllClose(values(fused), values(composed), tolerance, member);
  };
  const members = (['log1p', 'logSumExp', 'logSoftmax', 'sumLogLastAxis'] as const).filter(
    (m) => typeof ops[m] === 'function',
  );
  for (const member of members) {
    test(`${member} agrees with the composed version`, async () => {
      if (member === 'log1p') {
        const small = [1e-9, -1e-6, 0.25, -0.5, 3, 1e-3, -0.999];
        await compare(member, (o, x) => composedLog1p(o, x), small, [7]);
      } else if (member === 'sumLogLastAxis') {
        // Core's domain: x_k ∈ [1/10, 1] with Σ_k (1 − x_k) ≤ 1 per row.
        const rows = [
          [1, 0.9, 0.75, 0.999999, 0.5, 1, 0.95],
          [0.1, 1, 1, 1, 1, 1, 1],
          [1 - 1e-7, 0.99, 0.8, 0.9, 0.97, 0.999, 0.6],
        ];
        await compare(member, (o, x) => composedSumLog(o, x), rows.flat(), shape);
      } else if (member === 'logSumExp') {
        await compare(member, (o, x) => composedLogSumExp(o, x), data, shape);
      } else {
        await compare(member, (o, x) => composedLogSoftmax(o, x), data, shape);
      }
    });
  }
  if (members.length === 0) {
    test('the backend declares no fused overrides', () => {
      expect(members).toEqual([]);
      return Promise.resolve();
    });
  }
}
