import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { pairedBootstrap, resampleIndices } from './bootstrap.js';
import { BLEU, CHRF } from './corpus-metrics.js';

/** Accuracy in percent: statistics [correct, 1] per segment, score 100 · Σ correct / Σ 1. */
const accuracy = { score: (sum: ArrayLike<number>) => (100 * sum[0]) / sum[1] };
const vectors = (values: number[]) => values.map((v) => [v, 1]);

describe('paired bootstrap, computed by hand', () => {
  // Baseline right on segments 0 and 3 (50 %), the system also on 1 (75 %): δ = 25.
  const baseline = vectors([1, 0, 0, 1]);
  const system = vectors([1, 1, 0, 1]);
  const indices = [
    [0, 0, 0, 0], // baseline 100, system 100, |d| 0
    [1, 2, 1, 2], // baseline 0, system 50, |d| 50
    [0, 1, 2, 3], // baseline 50, system 75, |d| 25
    [2, 2, 2, 3], // baseline 25, system 25, |d| 0
  ];
  const [base, other] = pairedBootstrap([baseline, system], accuracy, { indices });

  test('scores, means and 95 % intervals (R = 4: ⌊4/40⌋ = 0, so min and max)', () => {
    expect(base).toMatchObject({ score: 50, mean: 43.75, lower: 0, upper: 100, ci: 50, pValue: null });
    expect(other).toMatchObject({ score: 75, mean: 62.5, lower: 25, upper: 100, ci: 37.5 });
    expect(other.difference).toEqual({ lower: 0, upper: 50 });
  });

  test('p-value: centred |d| = [−18.75, 31.25, 6.25, −18.75], one of them ≥ δ = 25 → (1 + 1) / (4 + 1)', () => {
    expect(other.pValue).toBe(0.4);
  });
});

test('the interval drops ⌊R/40⌋ scores at each end (R = 40: the 2nd smallest and 2nd largest)', () => {
  // 40 segments whose statistic is their index; resample r repeats segment r, so its sum is 40 · r.
  const system = Array.from({ length: 40 }, (_, i) => [i]);
  const indices = Array.from({ length: 40 }, (_, r) => new Array(40).fill(r));
  const [result] = pairedBootstrap([system], { score: (sum) => sum[0] }, { indices });
  expect(result).toMatchObject({ lower: 40, upper: 38 * 40, ci: (38 * 40 - 40) / 2, mean: 40 * 19.5 });
});

describe("against sacreBLEU's own --paired-bs (fixtures/sacrebleu-paired-bs.json)", () => {
  // Written by scripts/make-sacrebleu-bootstrap-fixture.py: sacreBLEU's PairedTest run on four systems, with the
  // resamples numpy drew for it. Given the same resamples, pairedBootstrap must report the same numbers.
  const fixture = JSON.parse(
    readFileSync(new URL('../../fixtures/sacrebleu-paired-bs.json', import.meta.url), 'utf8'),
  ) as {
    references: string[];
    systems: string[][];
    indices: number[][];
    results: Record<'bleu' | 'chrf', { score: number; mean: number; ci: number; pValue: number | null }[]>;
  };
  // sacreBLEU sums the resampled statistics in float32 (numpy), so its μ and CI carry float32 rounding: 1e-4.
  test.each(['bleu', 'chrf'] as const)('%s: score, μ, 95 %% CI and p of every system', (key) => {
    const metric = key === 'bleu' ? BLEU : CHRF;
    const stats = fixture.systems.map((hyps) => metric.statistics(hyps, fixture.references));
    const ours = pairedBootstrap(stats, metric, { indices: fixture.indices });
    fixture.results[key].forEach((expected, s) => {
      expect(ours[s].score).toBeCloseTo(expected.score, 9);
      expect(Math.abs(ours[s].mean - expected.mean)).toBeLessThan(1e-4);
      expect(Math.abs(ours[s].ci - expected.ci)).toBeLessThan(1e-4);
      expect(ours[s].pValue).toBe(expected.pValue);
    });
    // Not only the easy cases: a system the test cannot separate from the baseline (p ≈ 0.13 / 0.31).
    expect(fixture.results[key][2].pValue).toBeGreaterThan(0.1);
  });
});

const references = [
  'The printer is out of paper.',
  'Restart the router and try again.',
  'Your password expires in three days.',
  'The update failed to install.',
  'Please save your work before closing.',
  'The screen stays black after boot.',
];

test('identical systems: p = 1 and a paired difference of exactly 0 (sacreBLEU would say p = 1/1001)', () => {
  const hyps = ['The printer has no paper.', 'Restart router, then again.', ...references.slice(2)];
  for (const metric of [BLEU, CHRF]) {
    const stats = metric.statistics(hyps, references);
    const [a, b] = pairedBootstrap([stats, stats], metric);
    expect(b.pValue).toBe(1);
    expect(b.difference).toEqual({ lower: 0, upper: 0 });
    expect(b).toMatchObject({ score: a.score, mean: a.mean, lower: a.lower, upper: a.upper });
  }
});

test('a system that is right everywhere against one that is wrong everywhere: p = 1/1001, the least possible', () => {
  const wrong = references.map(() => 'Banana.');
  const bleu = pairedBootstrap(
    [BLEU.statistics(wrong, references), BLEU.statistics(references, references)],
    BLEU,
  );
  expect(bleu[0].score).toBe(0);
  // BLEU 100 is exp of a sum of logs: 100 up to rounding.
  for (const key of ['score', 'mean', 'lower', 'upper'] as const) expect(bleu[1][key]).toBeCloseTo(100, 10);
  expect(bleu[1].ci).toBe(0);
  expect(bleu[1].pValue).toBeCloseTo(1 / 1001, 12);
  expect(bleu[1].difference!.lower).toBeCloseTo(100, 10);
});

test('seeded: the same seed draws the same resamples, another seed others; indices cover 0..n−1', () => {
  expect(resampleIndices(7, 3, 12345)).toEqual(resampleIndices(7, 3, 12345));
  expect(resampleIndices(7, 3, 12345)).not.toEqual(resampleIndices(7, 3, 1));
  const drawn = resampleIndices(5, 400, 12345).flatMap((row) => [...row]);
  expect(new Set(drawn)).toEqual(new Set([0, 1, 2, 3, 4]));
  expect(resampleIndices(5, 1000, 2)).toHaveLength(1000);
});

test('mismatched systems and bad resamples are INVALID_OPTION', () => {
  const code = expect.objectContaining({ code: 'INVALID_OPTION' });
  expect(() => pairedBootstrap([vectors([1, 0]), vectors([1])], accuracy)).toThrow(code);
  expect(() => pairedBootstrap([[]], accuracy)).toThrow(code);
  expect(() => pairedBootstrap([vectors([1, 0])], accuracy, { resamples: 0 })).toThrow(code);
  expect(() => pairedBootstrap([vectors([1, 0])], accuracy, { indices: [[0, 2]] })).toThrow(code);
  // A seed the 32-bit generator would silently fold onto another: 0.5 and 2³² would draw seed 0's resamples.
  for (const seed of [0.5, -1, 2 ** 32, Number.NaN]) {
    expect(() => pairedBootstrap([vectors([1, 0])], accuracy, { seed }), `seed ${seed}`).toThrow(code);
  }
  expect(pairedBootstrap([vectors([1, 0])], accuracy, { seed: 2 ** 32 - 1, resamples: 3 })).toHaveLength(1);
});

const sentence = fc
  .array(fc.constantFrom('the', 'printer', 'router', 'is', 'out', 'of', 'paper', 'again', '.'), {
    minLength: 1,
    maxLength: 8,
  })
  .map((words) => words.join(' '));
const corpus = fc
  .integer({ min: 1, max: 12 })
  .chain((n) => fc.array(fc.tuple(sentence, sentence, sentence), { minLength: n, maxLength: n }));

test('properties: identical systems have p = 1 and an interval holding their score; any p is in [1/(R+1), 1]', () => {
  fc.assert(
    fc.property(corpus, fc.integer({ min: 0, max: 1000 }), (rows, seed) => {
      const [refs, a, b] = [0, 1, 2].map((k) => rows.map((row) => row[k]));
      for (const metric of [BLEU, CHRF]) {
        const stats = metric.statistics(a, refs);
        const same = pairedBootstrap([stats, stats], metric, { resamples: 200, seed });
        expect(same[1].pValue).toBe(1);
        expect(same[1].difference).toEqual({ lower: 0, upper: 0 });
        expect(same[0].lower).toBeLessThanOrEqual(same[0].score + 1e-9);
        expect(same[0].upper).toBeGreaterThanOrEqual(same[0].score - 1e-9);
        const [, other] = pairedBootstrap([stats, metric.statistics(b, refs)], metric, {
          resamples: 200,
          seed,
        });
        expect(other.pValue).toBeGreaterThanOrEqual(1 / 201);
        expect(other.pValue).toBeLessThanOrEqual(1);
        expect(other.lower).toBeLessThanOrEqual(other.upper);
      }
    }),
    { numRuns: 60 },
  );
});
