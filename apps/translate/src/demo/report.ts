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

/** One line of a chart: a run's name and its (x, y) points. */
export interface ChartSeries {
  name: string;
  points: [number, number][];
}

/** What {@link lineChart} draws. */
export interface LineChartOptions {
  title: string;
  /** Axis titles. */
  x: string;
  y: string;
  /** Legend title (what tells the lines apart). */
  legend: string;
  series: ChartSeries[];
}

/**
 * A line chart as SVG, drawn by Vega-Lite and rendered headless by Vega (`View.toSVG`, no canvas): one line with
 * point marks per series, titled axes, a legend, zero excluded from the y scale. Non-finite points are left out;
 * no points at all gives an empty string.
 */
export async function lineChart(options: LineChartOptions): Promise<string> {
  const values = options.series.flatMap((s) =>
    s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y]) => ({ x, y, run: s.name })),
  );
  if (values.length === 0) return '';
  const [{ View, parse }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 360,
    height: 220,
    data: { values },
    mark: { type: 'line', point: { size: 18 }, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.x, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: options.y, scale: { zero: false } },
      color: {
        field: 'run',
        type: 'nominal',
        title: options.legend,
        sort: options.series.map((s) => s.name),
      },
    },
    config: { font: 'sans-serif' },
  };
  // biome-ignore lint/suspicious/noExplicitAny: Vega-Lite's TopLevelSpec is a wide union; the literal above is one.
  const view = new View(parse(compile(spec as any).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Parses `metrics.jsonl`. */
export function parseMetrics(text: string): MetricsRecord[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MetricsRecord);
}
