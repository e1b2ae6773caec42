import type { MetricsRecord } from '../training/train.js';

/** One row of the demo table: a score, or the mean over seeds with the sample standard deviation. */
export interface DemoRow {
  name: string;
  loss: string;
  bleu: number;
  chrf: number;
  validNll: number;
  tokensPerSecond: number;
  trainSeconds: number;
  /** Sample standard deviations (n − 1) over seeds, when there are several. */
  std?: { bleu: number; chrf: number; validNll: number };
  /** Number of seeds the row averages. Default 1. */
  seeds?: number;
}

/** Mean and sample standard deviation (n − 1; `NaN` for one value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const squares = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : Number.NaN };
}

/** Rows of the same model over several seeds → one row of means, with standard deviations. */
export function aggregateRows(rows: readonly DemoRow[]): DemoRow {
  const field = (key: 'bleu' | 'chrf' | 'validNll' | 'tokensPerSecond' | 'trainSeconds') =>
    meanStd(rows.map((r) => r[key]));
  const [bleu, chrf, validNll] = [field('bleu'), field('chrf'), field('validNll')];
  return {
    name: rows[0].name,
    loss: rows[0].loss,
    bleu: bleu.mean,
    chrf: chrf.mean,
    validNll: validNll.mean,
    tokensPerSecond: field('tokensPerSecond').mean,
    trainSeconds: field('trainSeconds').mean,
    std: rows.length > 1 ? { bleu: bleu.std, chrf: chrf.std, validNll: validNll.std } : undefined,
    seeds: rows.length,
  };
}

/** A Markdown table of the rows; averaged rows read `mean ± std`. */
export function markdownTable(rows: DemoRow[]): string {
  const lines = [
    '| model | loss | BLEU | chrF | valid NLL | train tokens/s | train s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const show = (value: number, std: number | undefined, digits: number) => {
    if (!Number.isFinite(value)) return '–';
    return std !== undefined && Number.isFinite(std)
      ? `${value.toFixed(digits)} ± ${std.toFixed(digits)}`
      : value.toFixed(digits);
  };
  for (const r of rows) {
    const speed = r.tokensPerSecond > 0 ? Math.round(r.tokensPerSecond).toString() : '–';
    const seconds = r.trainSeconds > 0 ? r.trainSeconds.toFixed(0) : '–';
    lines.push(
      `| ${r.name} | ${r.loss} | ${show(r.bleu, r.std?.bleu, 2)} | ${show(r.chrf, r.std?.chrf, 2)} | ${show(r.validNll, r.std?.validNll, 3)} | ${speed} | ${seconds} |`,
    );
  }
  return lines.join('\n');
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

/** A small SVG line chart: one series per run, x = step. */
export function lineChart(title: string, series: { name: string; points: [number, number][] }[]): string {
  const width = 420;
  const height = 260;
  const left = 50;
  const bottom = 30;
  const top = 28;
  const right = 110;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) return '';
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (width - left - right);
  const sy = (y: number) => height - bottom - ((y - y0) / (y1 - y0)) * (height - bottom - top);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${title}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#444"/>`,
    `<text x="${left - 4}" y="${sy(y1) + 4}" text-anchor="end">${y1.toPrecision(3)}</text>`,
    `<text x="${left - 4}" y="${sy(y0) + 4}" text-anchor="end">${y0.toPrecision(3)}</text>`,
    `<text x="${left}" y="${height - 10}">${x0}</text>`,
    `<text x="${width - right}" y="${height - 10}" text-anchor="end">step ${x1}</text>`,
  ];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.points.filter(([, y]) => Number.isFinite(y));
    if (points.length === 0) return;
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
      `<text x="${width - right + 8}" y="${top + 14 * i + 8}" fill="${color}">${s.name}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Parses `metrics.jsonl`. */
export function parseMetrics(text: string): MetricsRecord[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MetricsRecord);
}
