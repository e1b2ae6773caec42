import type { BootstrapResult } from '@encouraging-loss/translate';
import { expect, test } from 'vitest';
import type { CompareArmResult, CompareResult } from './compare.js';
import { compareChartSpec, compareSection, pairedTable, renderSvg, summaryTable } from './report.js';

const boot = (score: number, pValue: number | null): BootstrapResult => ({
  score,
  mean: score + 0.01,
  ci: 0.5,
  lower: score - 0.5,
  upper: score + 0.5,
  pValue,
  difference: pValue === null ? null : { lower: -1, upper: 1 },
});

const arm = (name: string, label: string, scores: [number, number, number | null][]): CompareArmResult => ({
  name,
  label,
  loss: { bonusWeight: 0, logEnd: 1, labelSmoothing: 0, bonusFloor: null },
  // Filled in by the tests' expectations, not computed here: the tables only print them.
  bleu: { mean: 0, std: 0 },
  chrf: { mean: 0, std: 0 },
  significant: scores[0][2] === null ? null : { bleu: scores.filter(([, , p]) => p! < 0.05).length, chrf: 0 },
  runs: scores.map(([seed, bleu, p]) => ({
    seed,
    dir: `out/${name}-seed${seed}`,
    bleu,
    chrf: 50,
    training: {
      steps: 1,
      stoppedEarly: false,
      interrupted: false,
      bestBleu: 0,
      tokensPerSecond: 1,
      trainSeconds: 1,
      resumedFrom: 0,
    },
    evaluation: 'translated' as const,
    bootstrap: { bleu: boot(bleu, p), chrf: boot(50, p === null ? null : 0.5) },
  })),
});

const result = (arms: CompareArmResult[], seeds: number[]): CompareResult => ({
  format: 1,
  interrupted: false,
  test: { file: 'test.tsv', sentences: 200, skipped: 0 },
  beam: 5,
  seeds,
  baseline: arms[0].name,
  bootstrap: { method: 'paired-bs', resamples: 1000, seed: 12345, alpha: 0.05 },
  signatures: { bleu: 'nrefs:1|bs:1000', chrf: 'nc:6|bs:1000' },
  arms,
});

test('summary: mean ± std per loss, p per seed with stars below α and a count; the baseline says so', () => {
  const ce = arm('ce', 'CE', [
    [1, 30, null],
    [2, 31, null],
  ]);
  ce.bleu = { mean: 30.5, std: Math.SQRT1_2 };
  ce.chrf = { mean: 50, std: 0 };
  const cel = arm('cel', 'CEL logEnd 0.5, ε=0.1', [
    [1, 32, 0.001],
    [2, 31.5, 0.2],
  ]);
  cel.bleu = { mean: 31.75, std: 0.35355 };
  cel.chrf = { mean: 50, std: 0 };
  const table = summaryTable(result([ce, cel], [1, 2])).split('\n');
  expect(table[0]).toBe('| loss | seeds | BLEU | chrF2 | BLEU vs CE: p per seed | chrF2 vs CE: p per seed |');
  expect(table[2]).toBe('| CE | 2 | 30.50 ± 0.71 | 50.00 ± 0.00 | baseline | baseline |');
  expect(table[3]).toBe(
    '| CEL logEnd 0.5, ε=0.1 | 2 | 31.75 ± 0.35 | 50.00 ± 0.00 | 0.0010* · 0.2000 (1 of 2 < 0.05) | 0.5000 · 0.5000 (0 of 2 < 0.05) |',
  );
  const paired = pairedTable(result([ce, cel], [1, 2])).split('\n');
  expect(paired).toHaveLength(2 + 4);
  expect(paired[2]).toBe('| 1 | CE | 30.00 | 30.01 ± 0.50 | – | 50.00 | 50.01 ± 0.50 | – |');
  expect(paired[3]).toBe(
    '| 1 | CEL logEnd 0.5, ε=0.1 | 32.00 | 32.01 ± 0.50 | 0.0010* | 50.00 | 50.01 ± 0.50 | 0.5000 |',
  );
});

test('one seed: no ± (a standard deviation of one value is not one), no bar in the chart, a sentence saying so', async () => {
  const ce = arm('ce', 'CE', [[1, 30, null]]);
  ce.bleu = { mean: 30, std: Number.NaN };
  ce.chrf = { mean: 50, std: Number.NaN };
  const ls = arm('ls', 'CE, ε=0.1', [[1, 31, 0.04]]);
  ls.bleu = { mean: 31, std: Number.NaN };
  ls.chrf = { mean: 50, std: Number.NaN };
  const single = result([ce, ls], [1]);
  expect(summaryTable(single).split('\n')[2]).toBe('| CE | 1 | 30.00 | 50.00 | baseline | baseline |');
  const spec = compareChartSpec(single) as { data: { values: Record<string, unknown>[] } };
  const means = spec.data.values.filter((v) => v.kind === 'mean');
  expect(means).toHaveLength(4);
  expect(means.every((v) => v.lower === null && v.upper === null)).toBe(true);
  expect(compareSection(single, { init: 'base', chart: 'c.svg' })).toContain(
    'One seed, so no standard deviation',
  );
  const svg = await renderSvg(spec);
  expect(svg).toMatch(/^<svg/);
  for (const text of ['BLEU', 'chrF2', 'CE, ε=0.1', 'fine-tuning loss']) expect(svg).toContain(`>${text}<`);
});
