import type { MetricsRecord } from '@encouraging-loss/translate';
import { meanStd } from '../compare/summary.js';

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
  /** Training speed of each seed, in seed order (an aggregated row keeps them for paired comparisons). */
  tokensPerSecondBySeed?: number[];
}

export { meanStd } from '../compare/summary.js';

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
    tokensPerSecondBySeed: rows.map((r) => r.tokensPerSecond),
  };
}

/**
 * The report's sentence on EL's training-time overhead against label-smoothed CE: per seed, CE tokens/s ÷ EL
 * tokens/s − 1, reported as mean ± sample standard deviation over the seeds. With one seed (or none) there is
 * one timing per loss, and on a shared machine two timings differ by more than the overhead, so the sentence says
 * the overhead was not measured instead of printing a number (the −14.8 % of a one-seed demo was such noise).
 */
export function timeOverheadLine(ce: DemoRow | undefined, el: DemoRow | undefined): string {
  const a = ce?.tokensPerSecondBySeed ?? (ce ? [ce.tokensPerSecond] : []);
  const b = el?.tokensPerSecondBySeed ?? (el ? [el.tokensPerSecond] : []);
  const ratios = a
    .map((speed, i) => (speed / b[i] - 1) * 100)
    .filter((x, i) => i < b.length && Number.isFinite(x));
  if (ratios.length < 2) {
    return "EL's time overhead against label-smoothed CE is not reported: one timing per loss cannot tell it from the machine's noise (run with --seeds 1,2,3 for mean ± std).";
  }
  const { mean, std } = meanStd(ratios);
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
  return `EL's time overhead per training token against label-smoothed CE: ${signed(mean)} % ± ${std.toFixed(1)} % (mean ± sample std over ${ratios.length} seeds; same kernel, bonus weight 0 vs 1).`;
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
        // Vega cuts labels at 160 px by default ("CEL logEnd 0.5, ε=…"): no limit, the legend grows instead.
        legend: { labelLimit: 0 },
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
