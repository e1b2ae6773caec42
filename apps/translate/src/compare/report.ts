import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { withIo } from '@encouraging-loss/translate';
import { writeFileAtomic } from '@encouraging-loss/translate/node';
import type { CompareResult } from './compare.js';

const fixed = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const plusMinus = (mean: number, std: number) =>
  Number.isFinite(std) ? `${fixed(mean)} ± ${fixed(std)}` : fixed(mean);
/** A p-value as sacreBLEU prints it (4 decimals), starred below α. */
const showP = (p: number | null, alpha: number) =>
  p === null ? '–' : `${p.toFixed(4)}${p < alpha ? '*' : ''}`;

/** The summary table: per loss, BLEU and chrF as mean ± sample std over seeds, and each seed's paired p-value. */
export function summaryTable(result: CompareResult): string {
  const base = result.arms[0];
  const alpha = result.bootstrap.alpha;
  const lines = [
    `| loss | seeds | BLEU | chrF2 | BLEU vs ${base.label}: p per seed | chrF2 vs ${base.label}: p per seed |`,
    '| --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const arm of result.arms) {
    const ps = (key: 'bleu' | 'chrf') => {
      if (!arm.significant) return 'baseline';
      const values = arm.runs.map((r) => showP(r.bootstrap[key].pValue, alpha)).join(' · ');
      return `${values} (${arm.significant[key]} of ${arm.runs.length} < ${alpha})`;
    };
    lines.push(
      `| ${arm.label} | ${arm.runs.length} | ${plusMinus(arm.bleu.mean, arm.bleu.std)} | ${plusMinus(arm.chrf.mean, arm.chrf.std)} | ${ps('bleu')} | ${ps('chrf')} |`,
    );
  }
  return lines.join('\n');
}

/** sacreBLEU's `--paired-bs` table, one block per seed: score, μ ± 95 % CI half-width, p against the baseline. */
export function pairedTable(result: CompareResult): string {
  const alpha = result.bootstrap.alpha;
  const lines = [
    '| seed | loss | BLEU | μ ± 95 % CI | p | chrF2 | μ ± 95 % CI | p |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const seed of result.seeds) {
    for (const arm of result.arms) {
      const run = arm.runs.find((r) => r.seed === seed);
      if (!run) continue;
      const [b, c] = [run.bootstrap.bleu, run.bootstrap.chrf];
      lines.push(
        `| ${seed} | ${arm.label} | ${fixed(b.score)} | ${fixed(b.mean)} ± ${fixed(b.ci)} | ${showP(b.pValue, alpha)} | ${fixed(c.score)} | ${fixed(c.mean)} ± ${fixed(c.ci)} | ${showP(c.pValue, alpha)} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * The comparison chart as a Vega-Lite spec: one panel per metric (BLEU, chrF2, each with its own y scale), per loss
 * a dot per seed and the mean with a bar of ± one sample standard deviation (no bar from one seed).
 */
export function compareChartSpec(result: CompareResult): Record<string, unknown> {
  const labels = result.arms.map((a) => a.label);
  const values = result.arms.flatMap((arm) =>
    (['bleu', 'chrf'] as const).flatMap((key) => {
      const metric = key === 'bleu' ? 'BLEU' : 'chrF2';
      const { mean, std } = arm[key];
      const summary = {
        kind: 'mean',
        loss: arm.label,
        metric,
        score: mean,
        lower: Number.isFinite(std) ? mean - std : null,
        upper: Number.isFinite(std) ? mean + std : null,
      };
      return [
        summary,
        ...arm.runs.map((r) => ({ kind: 'seed', loss: arm.label, metric, seed: r.seed, score: r[key] })),
      ];
    }),
  );
  const x = {
    field: 'loss',
    type: 'nominal',
    sort: labels,
    title: 'fine-tuning loss',
    axis: { labelAngle: -30, labelLimit: 0 },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Test scores per loss (beam ${result.beam}, ${result.test.sentences} sentences; dots: seeds, bar: mean ± std)`,
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['BLEU', 'chrF2'] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 60 * labels.length + 60,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'seed'" }],
          mark: { type: 'point', size: 40, opacity: 0.7 },
          encoding: {
            x,
            y: { field: 'score', type: 'quantitative', title: 'score', scale: { zero: false } },
            color: { field: 'loss', type: 'nominal', sort: labels, legend: null },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'mean' && datum.lower !== null" }],
          mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: {
            x,
            y: { field: 'lower', type: 'quantitative' },
            y2: { field: 'upper' },
            color: { field: 'loss', type: 'nominal', sort: labels, legend: null },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'mean'" }],
          mark: { type: 'tick', thickness: 2, size: 18 },
          encoding: {
            x,
            y: { field: 'score', type: 'quantitative' },
            color: { field: 'loss', type: 'nominal', sort: labels, legend: null },
          },
        },
      ],
    },
    config: { font: 'sans-serif' },
  };
}

/** A Vega-Lite spec drawn as SVG by Vega, headless (`View.toSVG`, no canvas). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const [{ View, parse }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  // biome-ignore lint/suspicious/noExplicitAny: Vega-Lite's TopLevelSpec is a wide union; the spec is one.
  const view = new View(parse(compile(spec as any).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Where {@link writeCompareFiles} wrote, relative to its folder. */
export const COMPARE_FILES = {
  json: 'compare.json',
  spec: 'compare-scores.vl.json',
  svg: 'compare-scores.svg',
};

/**
 * The report's comparison section (Markdown): what was compared and how, the summary and per-seed tables, the
 * signatures and the chart (`chart` is the SVG's path relative to the report).
 */
export function compareSection(
  result: CompareResult,
  options: { init: string; chart: string; test?: string },
): string {
  const base = result.arms[0].label;
  const { resamples, seed, alpha } = result.bootstrap;
  const seeds = result.seeds.length > 1 ? `seeds ${result.seeds.join(', ')}` : `seed ${result.seeds[0]}`;
  const spread =
    result.seeds.length > 1
      ? 'BLEU and chrF2 are the mean ± sample standard deviation (n − 1) over seeds'
      : 'One seed, so no standard deviation (run with --seeds 1,2,3 for mean ± std)';
  const interrupted = result.interrupted
    ? '\n**Interrupted**: the runs below are those finished; the same command resumes the rest.\n'
    : '';
  return `## Loss comparison against ${base}
${interrupted}
Each loss fine-tuned \`${options.init}\` once per seed (${seeds}); each run was scored on \`${options.test ?? result.test.file}\`
(${result.test.sentences} sentences) with beam ${result.beam}. ${spread}. The p-values are paired bootstrap
resampling against the ${base} run of the same seed, as sacreBLEU's \`--paired-bs\` computes them (${resamples}
resamples of the test sentences, seed ${seed}, corpus scores from resampled sufficient statistics); \\* marks
p < ${alpha}. A p-value says whether the test set tells two systems apart, not whether the loss would on other data.

${summaryTable(result)}

Per seed: score, bootstrap mean μ ± half-width of the 95 % interval, p against ${base}.

${pairedTable(result)}

BLEU|${result.signatures.bleu}
chrF2|${result.signatures.chrf}

![test scores per loss](${options.chart})
`;
}

/**
 * Writes `compare.json` (the result), the chart's Vega-Lite spec and its SVG into `out`, and returns the report
 * section that shows them (`init` and `test` as the report should name them).
 */
export async function writeCompareFiles(
  out: string,
  result: CompareResult,
  names: { init: string; test?: string },
): Promise<string> {
  withIo('create', out, () => mkdirSync(out, { recursive: true }));
  const spec = compareChartSpec(result);
  writeFileAtomic(join(out, COMPARE_FILES.json), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(join(out, COMPARE_FILES.spec), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileAtomic(join(out, COMPARE_FILES.svg), await renderSvg(spec));
  return compareSection(result, { ...names, chart: COMPARE_FILES.svg });
}
