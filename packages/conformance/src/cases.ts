import type { EncouragingLossOptions } from '@encouraging-loss/core';
import { seededRandom } from '@encouraging-loss/core';
import type { ConformanceCase, SigmoidConformanceCase } from './adapter.js';

/** Standard normal draws (Box–Muller). */
export function normal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Rounds values to the precision a backend computes in, so the reference sees exactly what the backend sees. */
export function roundTo(values: ArrayLike<number>, precision: 'float32' | 'float64'): Float64Array {
  const out = Float64Array.from(values);
  if (precision === 'float32') for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]);
  return out;
}

export interface NamedCase {
  name: string;
  testCase: ConformanceCase;
}

function randomLogits(random: () => number, shape: number[], scale: number): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: size }, () => scale * normal(random));
}

function randomTargets(random: () => number, rows: number, K: number): Int32Array {
  return Int32Array.from({ length: rows }, () => Math.floor(random() * K));
}

/**
 * Logits for one row of K classes where the target y has log-odds `margin` over every other class
 * (z_y = margin, the others spread in [−1, 0]); a negative margin makes y lose.
 */
export function marginRow(K: number, y: number, margin: number, random: () => number): number[] {
  return Array.from({ length: K }, (_, j) => (j === y ? margin : -random()));
}

/**
 * Logits whose target probability is exactly-ish `p` (p_y = p, the rest uniform): z_y = log(p (K−1)/(1−p)),
 * others 0.
 */
export function probabilityRow(K: number, y: number, p: number): number[] {
  return Array.from({ length: K }, (_, j) => (j === y ? Math.log((p * (K - 1)) / (1 - p)) : 0));
}

const optionGrid = (): EncouragingLossOptions[] => {
  const grid: EncouragingLossOptions[] = [];
  for (const logEnd of [1, 0.75, 0.5, 0.3])
    for (const bonusWeight of [0, 1, 2.5])
      for (const labelSmoothing of [0, 0.1])
        for (const reduction of ['mean', 'sum', 'none'] as const)
          for (const bonusFloor of [undefined, 0])
            grid.push({
              logEnd,
              bonusWeight,
              labelSmoothing,
              reduction,
              ...(bonusFloor === undefined ? {} : { bonusFloor }),
            });
  return grid;
};

const describeOptions = (o: EncouragingLossOptions) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`)
    .join(' ');

/** Every option combination on a small [N, K] batch with an ignored row. */
export function optionGridCases(precision: 'float32' | 'float64'): NamedCase[] {
  const random = seededRandom(1);
  const shape = [6, 4];
  const logits = roundTo(randomLogits(random, shape, 3), precision);
  const targets = randomTargets(random, 6, 4);
  targets[2] = -100;
  return optionGrid().map((options) => ({
    name: `options ${describeOptions(options)}`,
    testCase: {
      logits: { data: logits, shape },
      targets: { data: targets, shape: [6] },
      targetType: 'indices',
      options,
    },
  }));
}

/** Class weights, custom ignoreIndex, soft targets, input kinds and shapes. */
export function featureCases(precision: 'float32' | 'float64'): NamedCase[] {
  const random = seededRandom(2);
  const cases: NamedCase[] = [];
  const nk = [5, 3];
  const logits = roundTo(randomLogits(random, nk, 2), precision);
  const targets = Int32Array.from([0, 2, 1, 1, 0]);
  for (const options of [
    { classWeights: [2, 0.5, 1] },
    { classWeights: [2, 0.5, 1], labelSmoothing: 0.2, logEnd: 1 },
    { classWeights: [2, 0.5, 1], reduction: 'sum' as const },
    { classWeights: [0, 0, 0] },
  ]) {
    cases.push({
      name: `class weights ${describeOptions(options)}`,
      testCase: {
        logits: { data: logits, shape: nk },
        targets: { data: targets, shape: [5] },
        targetType: 'indices',
        options,
      },
    });
  }
  const withIgnore = Int32Array.from([0, 7, 1, 7, 2]);
  cases.push({
    name: 'custom ignoreIndex 7',
    testCase: {
      logits: { data: logits, shape: nk },
      targets: { data: withIgnore, shape: [5] },
      targetType: 'indices',
      options: { ignoreIndex: 7, labelSmoothing: 0.1 },
    },
  });
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    cases.push({
      name: `all ignored reduction=${reduction}`,
      testCase: {
        logits: { data: logits, shape: nk },
        targets: { data: Int32Array.from([-100, -100, -100, -100, -100]), shape: [5] },
        targetType: 'indices',
        options: { reduction },
      },
    });
  }
  // [B, T, V] translation-shaped logits with padding ignored.
  const btv = [2, 3, 7];
  const seqLogits = roundTo(randomLogits(random, btv, 2), precision);
  const seqTargets = Int32Array.from([1, 4, -100, 6, 0, -100]);
  for (const options of [
    { logEnd: 0.5, labelSmoothing: 0.1 },
    { logEnd: 1, reduction: 'none' as const },
    {},
  ]) {
    cases.push({
      name: `[B, T, V] ${describeOptions(options)}`,
      testCase: {
        logits: { data: seqLogits, shape: btv },
        targets: { data: seqTargets, shape: [2, 3] },
        targetType: 'indices',
        options,
      },
    });
  }
  // Soft targets (rows summing to 1, one row peaked), with and without class weights.
  const soft = new Float64Array(15);
  for (let r = 0; r < 5; r++) {
    const raw = [random(), random(), random()];
    if (r === 1) raw.splice(0, 3, 0, 1, 0);
    const sum = raw.reduce((a, b) => a + b, 0);
    raw.forEach((v, k) => {
      soft[r * 3 + k] = v / sum;
    });
  }
  for (const options of [
    {},
    { logEnd: 1, reduction: 'sum' as const },
    { classWeights: [1, 2, 0.5], logEnd: 0.5 },
  ]) {
    cases.push({
      name: `soft targets ${describeOptions(options)}`,
      testCase: {
        logits: { data: logits, shape: nk },
        targets: { data: soft, shape: nk },
        targetType: 'probabilities',
        options,
      },
    });
  }
  // Log-probabilities and probabilities as input.
  const logProbs = new Float64Array(15);
  const probs = new Float64Array(15);
  for (let r = 0; r < 5; r++) {
    const row = Array.from(logits.slice(r * 3, r * 3 + 3));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    row.forEach((v, k) => {
      logProbs[r * 3 + k] = v - lse;
      probs[r * 3 + k] = Math.exp(v - lse);
    });
  }
  for (const options of [
    { input: 'logProbs' as const },
    { input: 'logProbs' as const, logEnd: 0.5, labelSmoothing: 0.1 },
  ]) {
    cases.push({
      name: `input ${describeOptions(options)}`,
      testCase: {
        logits: { data: roundTo(logProbs, precision), shape: nk },
        targets: { data: targets, shape: [5] },
        targetType: 'indices',
        options,
      },
    });
  }
  for (const options of [
    { input: 'probabilities' as const },
    { input: 'probabilities' as const, logEnd: 1, reduction: 'sum' as const },
  ]) {
    cases.push({
      name: `input ${describeOptions(options)}`,
      testCase: {
        logits: { data: roundTo(probs, precision), shape: nk },
        targets: { data: targets, shape: [5] },
        targetType: 'indices',
        options,
      },
    });
  }
  return cases;
}

/**
 * The three regions (log, tangent, the floor on 1 − p) and margins up to 1000, target winning and losing: plain EL
 * with the default floor (1e-5, floored past a margin of ~12), without it (`bonusFloor: 0`, exact at any margin),
 * and with the floor acting between 1 − bonusFloor and logEnd (logEnd 0.999, floor 0.005; a larger logEnd would make
 * the tangent's slope, 1/(1 − logEnd), amplify float32's rounding of p past any tolerance).
 */
export function regionCases(precision: 'float32' | 'float64'): NamedCase[] {
  const random = seededRandom(3);
  const cases: NamedCase[] = [];
  const K = 5;
  for (const margin of [0, 2, 5, 12, 20, 40, 80, 200, 1000]) {
    for (const winning of [true, false]) {
      const rows = [0, 1, 2, 3].map((r) => marginRow(K, r, winning ? margin : -margin, random));
      const data = roundTo(rows.flat(), precision);
      for (const options of [
        { logEnd: 1 },
        { logEnd: 1, bonusFloor: 0 },
        { logEnd: 0.75 },
        { logEnd: 0.5, labelSmoothing: 0.1 },
        { logEnd: 1, labelSmoothing: 0.1, reduction: 'none' as const },
        { logEnd: 1, labelSmoothing: 0.1, bonusFloor: 0 },
        { logEnd: 0.999, labelSmoothing: 0.1, bonusFloor: 0.005 },
        { logEnd: 1, numerics: 'reference' as const },
      ]) {
        cases.push({
          name: `margin ${winning ? '+' : '-'}${margin} ${describeOptions(options)}`,
          testCase: {
            logits: { data, shape: [4, K] },
            targets: { data: Int32Array.from([0, 1, 2, 3]), shape: [4] },
            targetType: 'indices',
            options,
          },
        });
      }
    }
  }
  // Rows placed in each region by their target probability.
  for (const [region, p, options] of [
    ['log', 0.3, { logEnd: 0.75 }],
    ['log near logEnd', 0.74, { logEnd: 0.75 }],
    ['tangent', 0.9, { logEnd: 0.75 }],
    ['tangent near 1', 1 - 1e-6, { logEnd: 0.5 }],
    ['floor', 1 - 1e-7, { logEnd: 1 }],
    ['just outside floor', 1 - 1e-4, { logEnd: 1 }],
    ['floor 1e-3', 1 - 1e-4, { logEnd: 1, bonusFloor: 1e-3 }],
    ['floor before the tangent', 0.997, { logEnd: 0.999, bonusFloor: 0.005 }],
    ['tangent after the floor', 0.9995, { logEnd: 0.999, bonusFloor: 0.005 }],
    ['no floor', 1 - 1e-7, { logEnd: 1, bonusFloor: 0 }],
    ['clamp (reference)', 1 - 1e-7, { logEnd: 1, numerics: 'reference' as const }],
  ] as const) {
    const data = roundTo([...probabilityRow(K, 1, p), ...probabilityRow(K, 3, p)], precision);
    cases.push({
      name: `region ${region} p=${p}`,
      testCase: {
        logits: { data, shape: [2, K] },
        targets: { data: Int32Array.from([1, 3]), shape: [2] },
        targetType: 'indices',
        options,
      },
    });
  }
  return cases;
}

/** K = 32 000 (a translation vocabulary), two rows, one confident. */
export function largeVocabularyCases(precision: 'float32' | 'float64'): NamedCase[] {
  const random = seededRandom(4);
  const K = 32000;
  const data = randomLogits(random, [2, K], 1.5);
  data[7] = 30; // row 0: target 7 wins by a wide margin
  const logits = roundTo(data, precision);
  return [{ logEnd: 1 }, { logEnd: 1, bonusFloor: 0 }, { logEnd: 0.5, labelSmoothing: 0.1 }].map(
    (options) => ({
      name: `K=32000 ${describeOptions(options)}`,
      testCase: {
        logits: { data: logits, shape: [2, K] },
        targets: { data: Int32Array.from([7, 123]), shape: [2] },
        targetType: 'indices',
        options,
      },
    }),
  );
}

export interface NamedSigmoidCase {
  name: string;
  testCase: SigmoidConformanceCase;
}

/** Multi-label cases: regions, weights, ignore, reductions, large margins. */
export function sigmoidCases(precision: 'float32' | 'float64'): NamedSigmoidCase[] {
  const random = seededRandom(5);
  const shape = [4, 5];
  const values = Array.from({ length: 20 }, () => 3 * normal(random));
  values[3] = 40;
  values[4] = -40;
  values[7] = 80;
  const logits = roundTo(values, precision);
  const targets = Float64Array.from({ length: 20 }, (_, i) => (i === 5 ? -100 : random() < 0.5 ? 1 : 0));
  targets[3] = 1;
  targets[4] = 0;
  targets[7] = 1;
  const cases: NamedSigmoidCase[] = [];
  for (const options of [
    {},
    { logEnd: 1 },
    { logEnd: 1, bonusFloor: 0 },
    { logEnd: 0.5, bonusWeight: 2 },
    { logEnd: 1, numerics: 'reference' as const },
    { positiveWeight: 2, negativeWeight: 0.5, reduction: 'sum' as const },
    { reduction: 'none' as const, logEnd: 0.9 },
  ]) {
    cases.push({
      name: `sigmoid ${describeOptions(options)}`,
      testCase: { logits: { data: logits, shape }, targets: { data: targets, shape }, options },
    });
  }
  return cases;
}

/** Mulberry32, seeded: core's one generator, re-exported for suites that build their own cases. */
export { seededRandom };
