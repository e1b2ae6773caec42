// pnpm bench (root): after every package's bench has run, gathers their bench/results.json into
// bench/results.json, a Markdown table (bench/results.md) and an SVG chart of the ratios (bench/chart.svg).
// Every figure is a ratio to a baseline measured in the same run on the same machine.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const all = [];
for (const folder of ['packages', 'apps', 'examples']) {
  if (!existsSync(join(root, folder))) continue;
  for (const name of readdirSync(join(root, folder)).sort()) {
    // results.json from each package's `bench`; lora-results(-2t).json from el-translate's `bench:lora` and
    // `bench:lora:2t` (the 600M-shape LoRA step on one and two threads, ~15 minutes each: refreshed by their own
    // commands, not by every `pnpm bench`).
    for (const file of ['results.json', 'lora-results.json', 'lora-results-2t.json'].map((f) =>
      join(root, folder, name, 'bench', f),
    )) {
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(join(root, folder, name, 'package.json'), 'utf8')).name;
      const report = JSON.parse(readFileSync(file, 'utf8'));
      for (const r of report.results ?? []) {
        all.push({
          package: pkg,
          backend: r.backend ?? name,
          shape: r.shape,
          dtype: r.dtype ?? 'float32',
          variant: r.variant,
          median: r.median,
          min: r.min,
          max: r.max,
          baseline: r.baseline ?? 'summing pass',
          baselineMedian: r.baselineMedian,
          ratio: r.ratio ?? r.median / r.baselineMedian,
          extraBytes: r.extraBytes,
          date: report.date,
        });
      }
    }
  }
}
mkdirSync(join(root, 'bench'), { recursive: true });
writeFileSync(
  join(root, 'bench', 'results.json'),
  `${JSON.stringify({ generated: new Date().toISOString(), results: all }, null, 2)}\n`,
);

const fmt = (v, digits = 2) => (typeof v === 'number' ? v.toFixed(digits) : '—');
const md = [
  '# Benchmark results',
  '',
  'fwd+bwd medians in ms (min–max), and the ratio to the baseline measured in the same run. From a shared 2-core',
  'machine: compare ratios, not milliseconds. Regenerate with `pnpm bench`.',
  '',
  '| package | backend | shape | dtype | variant | median ms (min–max) | baseline | baseline ms | ratio | extra MiB |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...all.map(
    (r) =>
      `| ${r.package} | ${r.backend} | [${r.shape.join(', ')}] | ${r.dtype} | ${r.variant} | ${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)}) | ${r.baseline} | ${fmt(r.baselineMedian)} | **${fmt(r.ratio)}×** | ${r.extraBytes === undefined ? '—' : fmt(r.extraBytes / 2 ** 20, 1)} |`,
  ),
  '',
];
writeFileSync(join(root, 'bench', 'results.md'), md.join('\n'));

// Horizontal bars of the ratio, one per row, with a line at 1×.
const barHeight = 18;
const left = 430;
const width = 900;
const maxRatio = Math.max(2, ...all.map((r) => r.ratio));
const scale = (width - left - 60) / maxRatio;
const bars = all
  .map((r, i) => {
    const y = 40 + i * (barHeight + 6);
    const label = `${r.backend} [${r.shape.join('×')}] ${r.dtype} ${r.variant}`.slice(0, 70);
    return `<text x="${left - 8}" y="${y + 13}" font-size="11" text-anchor="end">${label}</text>
<rect x="${left}" y="${y}" width="${(r.ratio * scale).toFixed(1)}" height="${barHeight}" fill="${r.ratio <= 1.25 ? '#2ca02c' : r.ratio <= 3 ? '#1f77b4' : '#d62728'}"/>
<text x="${left + r.ratio * scale + 4}" y="${y + 13}" font-size="11">${r.ratio.toFixed(2)}× ${r.baseline}</text>`;
  })
  .join('\n');
const height = 60 + all.length * (barHeight + 6);
writeFileSync(
  join(root, 'bench', 'chart.svg'),
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" font-size="14" text-anchor="middle">fwd+bwd time as a ratio to the in-run baseline</text>
<line x1="${left + scale}" x2="${left + scale}" y1="30" y2="${height - 10}" stroke="#888" stroke-dasharray="4 3"/>
${bars}
</svg>
`,
);
console.log(`bench/results.{json,md}, bench/chart.svg: ${all.length} rows`);
