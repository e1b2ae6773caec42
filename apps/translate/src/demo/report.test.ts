import { expect, test } from 'vitest';
import {
  aggregateRows,
  type DemoRow,
  lineChart,
  markdownTable,
  meanStd,
  timeOverheadLine,
} from './report.js';

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

test('charts are Vega-Lite SVG with both axis titles, a legend entry per run and a point per value', async () => {
  const svg = await lineChart({
    title: 'Valid NLL',
    x: 'fine-tuning step',
    y: 'NLL per token (nats)',
    legend: 'fine-tuning loss',
    series: [
      {
        name: 'CE',
        points: [
          [25, 2.5],
          [50, 2.1],
          [75, 1.9],
        ],
      },
      {
        name: 'EL, ε=0.1',
        points: [
          [25, 2.7],
          [50, Number.NaN],
          [75, 2.2],
        ],
      },
    ],
  });
  expect(svg.startsWith('<svg')).toBe(true);
  for (const text of [
    'Valid NLL',
    'fine-tuning step',
    'NLL per token (nats)',
    'fine-tuning loss',
    'CE',
    'EL, ε=0.1',
  ]) {
    expect(svg, text).toContain(`>${text}<`);
  }
  // Five finite points (the NaN is left out), each drawn as a point mark labelled with its values.
  const points = [
    ...svg.matchAll(
      /aria-label="fine-tuning step: (\d+); NLL per token \(nats\): ([\d.]+); fine-tuning loss: ([^"]+)" role="graphics-symbol" aria-roledescription="point"/g,
    ),
  ];
  expect(points.map((m) => `${m[3]}@${m[1]}=${m[2]}`).sort()).toEqual(
    ['CE@25=2.5', 'CE@50=2.1', 'CE@75=1.9', 'EL, ε=0.1@25=2.7', 'EL, ε=0.1@75=2.2'].sort(),
  );
  expect(await lineChart({ title: 't', x: 'x', y: 'y', legend: 'l', series: [] })).toBe('');
});

test('a long run name is drawn whole in the legend, not cut with an ellipsis', async () => {
  const name = 'CEL logEnd 0.5, ε=0.1 (fine-tuned, seed 1)';
  const svg = await lineChart({
    title: 't',
    x: 'step',
    y: 'BLEU',
    legend: 'fine-tuning loss',
    series: [
      {
        name,
        points: [
          [1, 2],
          [2, 3],
        ],
      },
      {
        name: 'CE',
        points: [
          [1, 1],
          [2, 2],
        ],
      },
    ],
  });
  expect(svg).toContain(`>${name}<`);
  expect(svg).not.toContain('…');
});

test('EL time overhead: mean ± std of the per-seed ratios, or not reported from one timing', () => {
  const row = (name: string, speeds: number[]): DemoRow =>
    aggregateRows(
      speeds.map((tokensPerSecond) => ({
        name,
        loss: name,
        bleu: 1,
        chrf: 1,
        validNll: 1,
        tokensPerSecond,
        trainSeconds: 1,
      })),
    );
  // Seeds: CE 1100 vs EL 1000 → +10 %; CE 900 vs EL 1000 → −10 %; CE 1000 vs EL 1000 → 0 %. Mean 0, std 10.
  const line = timeOverheadLine(row('ce', [1100, 900, 1000]), row('el', [1000, 1000, 1000]));
  expect(line).toContain('+0.0 % ± 10.0 % (mean ± sample std over 3 seeds');
  // One seed: 1000 vs 1176 would have read "−15.0 %"; it is not a measurement.
  const one = timeOverheadLine(row('ce', [1000]), row('el', [1176]));
  expect(one).toMatch(/not reported/);
  expect(one).not.toMatch(/\d %/);
  expect(timeOverheadLine(undefined, undefined)).toMatch(/not reported/);
});
