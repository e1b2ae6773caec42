import { expect, test } from 'vitest';
import { aggregateRows, type DemoRow, markdownTable, meanStd } from './report.js';

test('mean and sample standard deviation (n − 1)', () => {
  // 2, 4, 9: mean 5, squared deviations 9 + 1 + 16 = 26, variance 26 / 2 = 13.
  expect(meanStd([2, 4, 9]).mean).toBe(5);
  expect(meanStd([2, 4, 9]).std).toBeCloseTo(Math.sqrt(13), 14);
  expect(meanStd([7]).std).toBeNaN();
});

test('rows over seeds aggregate to mean ± std in the table; one seed stays a plain number', () => {
  const row = (bleu: number, chrf: number): DemoRow => ({
    name: 'fine-tuned (el)',
    loss: 'EL, ε=0.1',
    bleu,
    chrf,
    validNll: 1.5,
    tokensPerSecond: 3000,
    trainSeconds: 50,
  });
  const averaged = aggregateRows([row(10, 40), row(12, 44)]);
  expect(averaged).toMatchObject({ bleu: 11, chrf: 42, seeds: 2 });
  // Two values a, b: sample std |a − b| / √2.
  expect(averaged.std?.bleu).toBeCloseTo(2 / Math.SQRT2, 14);
  const table = markdownTable([averaged, aggregateRows([row(10, 40)])]).split('\n');
  expect(table[2]).toBe(
    '| fine-tuned (el) | EL, ε=0.1 | 11.00 ± 1.41 | 42.00 ± 2.83 | 1.500 ± 0.000 | 3000 | 50 |',
  );
  expect(table[3]).toBe('| fine-tuned (el) | EL, ε=0.1 | 10.00 | 40.00 | 1.500 | 3000 | 50 |');
});
