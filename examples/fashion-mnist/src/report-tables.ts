import { LOSSES, type LossName } from './losses.js';
import { meanStd, pairedDifference } from './metrics.js';
import { MODELS, type ModelName } from './models.js';
import { type ResultsFile, type RunRecord, SETS, type SetName } from './results.js';

const COMMAND = 'pnpm --filter @encouraging-loss/example-fashion-mnist run';

/** The class groups of the long-tailed set, by training count, as the long-tail literature splits them. */
export function classGroups(counts: readonly number[]) {
  const classesWhere = (keep: (n: number) => boolean) => counts.flatMap((n, c) => (keep(n) ? [c] : []));
  const rarest = [...counts.keys()]
    .sort((a, b) => counts[a] - counts[b])
    .slice(0, 3)
    .sort((a, b) => a - b);
  return [
    { name: 'many (>100)', classes: classesWhere((n) => n > 100) },
    { name: 'medium (20–100)', classes: classesWhere((n) => n >= 20 && n <= 100) },
    { name: 'few (<20)', classes: classesWhere((n) => n < 20) },
    { name: 'rarest 3', classes: rarest },
  ];
}

const pct = (v: number, digits = 2) => (100 * v).toFixed(digits);
const signed = (v: number, digits = 2) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(digits)}`;
const classList = (classes: number[]) =>
  classes.length === 0
    ? 'none'
    : classes.every((c, i) => i === 0 || c === classes[i - 1] + 1) && classes.length > 2
      ? `c${classes[0]}–${classes[classes.length - 1]}`
      : classes.map((c) => `c${c}`).join(', ');

/**
 * The runs of one (model, set) the tables show: those at its longest training (a run made with other `--epochs` is
 * not averaged or paired with them), and of those only the seeds every arm has, so that an arm's mean ± std and its
 * paired difference to CE are over the same seeds (an experiment stopped between two arms of a seed leaves the
 * seed's later arms missing).
 */
function shownRuns(results: ResultsFile, model: ModelName, set: SetName): RunRecord[] {
  const ofSet = results.runs.filter((r) => r.model === model && r.set === set);
  if (ofSet.length === 0) return [];
  const epochs = Math.max(...ofSet.map((r) => r.epochs));
  const longest = ofSet.filter((r) => r.epochs === epochs);
  const losses = [...new Set(longest.map((r) => r.loss))];
  const complete = (seed: number) =>
    losses.every((l) => longest.some((r) => r.loss === l && r.seed === seed));
  return longest.filter((r) => complete(r.seed));
}

/** The shown runs ({@link shownRuns}) of one arm, ordered by seed. */
function runsOf(results: ResultsFile, model: ModelName, set: SetName, loss: LossName): RunRecord[] {
  return shownRuns(results, model, set)
    .filter((r) => r.loss === loss)
    .sort((a, b) => a.seed - b.seed);
}

/** `mean ± std` of a measure over an arm's seeds, in percent. */
function cell(runs: RunRecord[], measure: (r: RunRecord) => number): string {
  if (runs.length === 0) return '–';
  const { mean, std } = meanStd(runs.map(measure));
  return `${pct(mean)} ± ${pct(std)}`;
}

/**
 * The paired difference to CE over the seeds both arms ran: `mean ± std [min, max]` in percentage points, and how
 * many seeds agree in sign (`4↑ 1↓ of 5`). "win"/"loss" only when every one of at least 5 seeds agrees (a sign
 * test's smallest p for 5 seeds is 2 · 1/32 = 0.06: even 5 of 5 is weak evidence), otherwise "tie".
 */
function paired(runs: RunRecord[], baseline: RunRecord[], measure: (r: RunRecord) => number) {
  const seeds = runs.map((r) => r.seed).filter((s) => baseline.some((b) => b.seed === s));
  if (seeds.length === 0) return { difference: '–', agreement: '–', verdict: '–' };
  const pick = (rs: RunRecord[]) => seeds.map((s) => measure(rs.find((r) => r.seed === s) as RunRecord));
  const d = pairedDifference(pick(runs), pick(baseline));
  const verdict =
    d.count < 5
      ? `(${d.count} seeds)`
      : d.positive === d.count
        ? 'win'
        : d.negative === d.count
          ? 'loss'
          : 'tie';
  return {
    difference: `${signed(d.mean)} ± ${pct(d.std)} [${signed(d.min, 1)}, ${signed(d.max, 1)}]`,
    agreement: `${d.positive}↑ ${d.negative}↓ of ${d.count}`,
    verdict,
  };
}

function groupAccuracy(classes: number[]) {
  return (r: RunRecord) => classes.reduce((a, c) => a + r.perClassAccuracy[c], 0) / classes.length;
}

function whatRan(results: ResultsFile, model: ModelName): string | undefined {
  const runs = results.runs.filter((r) => r.model === model);
  if (runs.length === 0) return undefined;
  const parts = SETS.map((set) => {
    const all = runs.filter((r) => r.set === set);
    if (all.length === 0) return `${set}: not run`;
    const ofSet = shownRuns(results, model, set);
    const seeds = [...new Set(ofSet.map((r) => r.seed))].sort((a, b) => a - b);
    const losses = LOSSES.filter((l) => ofSet.some((r) => r.loss === l)).length;
    const left = all.length - ofSet.length;
    const leftOut =
      left === 0 ? '' : `; ${left} more left out: at fewer epochs, or of a seed not every arm has run yet`;
    return `${set}: ${losses} losses × seeds ${seeds.join(',')}, ${ofSet[0].epochs} epochs (${ofSet.length} runs${leftOut})`;
  });
  return `**${model.toUpperCase()}** (${results.settings.models[model]}): ${parts.join('; ')}.`;
}

function accuracyTable(results: ResultsFile, model: ModelName): string[] {
  const lines = [
    '| loss | balanced: accuracy % | Δ vs CE (pp) | seeds | verdict | long-tailed: accuracy % | Δ vs CE (pp) | seeds | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const loss of LOSSES) {
    const cells = SETS.flatMap((set) => {
      const runs = runsOf(results, model, set, loss);
      const p =
        loss === 'CE'
          ? { difference: '(baseline)', agreement: '', verdict: '' }
          : paired(runs, runsOf(results, model, set, 'CE'), (r) => r.testAccuracy);
      return [cell(runs, (r) => r.testAccuracy), p.difference, p.agreement, p.verdict];
    });
    lines.push(`| ${loss} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function groupTable(results: ResultsFile, model: ModelName): string[] {
  const groups = classGroups(results.settings.longTailedCounts).filter((g) => g.classes.length > 0);
  const lines = [
    `| loss | ${groups.map((g) => `${g.name}: ${classList(g.classes)} %`).join(' | ')} | Δ ${groups[groups.length - 1].name} vs CE (pp) | seeds |`,
    `| --- | ${groups.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  const rarest = groupAccuracy(groups[groups.length - 1].classes);
  for (const loss of LOSSES) {
    const runs = runsOf(results, model, 'long-tailed', loss);
    const p =
      loss === 'CE'
        ? { difference: '(baseline)', agreement: '' }
        : paired(runs, runsOf(results, model, 'long-tailed', 'CE'), rarest);
    lines.push(
      `| ${loss} | ${groups.map((g) => cell(runs, groupAccuracy(g.classes))).join(' | ')} | ${p.difference} | ${p.agreement} |`,
    );
  }
  return lines;
}

function calibrationTable(results: ResultsFile, model: ModelName): string[] {
  const lines = [
    '| loss | balanced: ECE % | Δ vs CE (pp) | NLL | long-tailed: ECE % | Δ vs CE (pp) | NLL |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const loss of LOSSES) {
    const cells = SETS.flatMap((set) => {
      const runs = runsOf(results, model, set, loss);
      const p =
        loss === 'CE'
          ? '(baseline)'
          : paired(runs, runsOf(results, model, set, 'CE'), (r) => r.ece).difference;
      const nll = runs.length ? meanStd(runs.map((r) => r.nll)) : undefined;
      return [cell(runs, (r) => r.ece), p, nll ? `${nll.mean.toFixed(3)} ± ${nll.std.toFixed(3)}` : '–'];
    });
    lines.push(`| ${loss} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/**
 * A run's test accuracy averaged over the three epochs up to `epoch` (1-based; fewer at the start of the curve): a
 * single epoch's accuracy moves by a few tenths of a point from one epoch to the next.
 */
function accuracyUpTo(run: RunRecord, epoch: number): number {
  const part = (run.testAccuracyByEpoch as number[]).slice(Math.max(0, epoch - 3), epoch);
  return part.reduce((a, v) => a + v, 0) / part.length;
}

/**
 * Whether the runs had converged: per arm, the mean over seeds of the test accuracy averaged over three epochs ending
 * at the half-way epoch, at three quarters and at the last epoch, the change over the last quarter, and the training
 * loss at half-way and at the end. A single epoch's test accuracy moves by a few tenths of a point from one epoch to
 * the next, hence three-epoch averages. Only runs that recorded their learning curve (`testAccuracyByEpoch`) and ran
 * at least 8 epochs are shown.
 */
export function convergenceTable(results: ResultsFile, model: ModelName): string[] {
  const rows: string[] = [];
  for (const set of SETS) {
    for (const loss of LOSSES) {
      const runs = runsOf(results, model, set, loss).filter(
        (r) => (r.testAccuracyByEpoch?.length ?? 0) === r.epochs && r.epochs >= 8,
      );
      const epochs = [...new Set(runs.map((r) => r.epochs))];
      if (runs.length === 0 || epochs.length !== 1) continue;
      const e = epochs[0];
      const marks = [Math.ceil(e / 2), Math.ceil((3 * e) / 4), e];
      const mean = (f: (r: RunRecord) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
      const accuracy = marks.map((m) => mean((r) => accuracyUpTo(r, m)));
      const trainLoss = [marks[0], e].map((m) => mean((r) => r.trainLoss[m - 1]).toFixed(3));
      rows.push(
        `| ${set} | ${loss} | ${runs.length} | ${marks.map((m) => m).join(' / ')} | ${accuracy.map((a) => pct(a)).join(' → ')} | ${signed(accuracy[2] - accuracy[1])} | ${trainLoss.join(' → ')} |`,
      );
    }
  }
  if (rows.length === 0) return [];
  return [
    '| set | loss | seeds | epochs: half / ¾ / last | test accuracy %, 3-epoch means | Δ last quarter (pp) | training loss, half → last |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
}

/** The README's results section (markdown), made from results.json alone. */
export function resultsSection(results: ResultsFile): string {
  const counts = results.settings.longTailedCounts;
  const groups = classGroups(counts);
  const out = [
    `_Written by \`${COMMAND} report\` from results.json (made by \`${COMMAND} experiment\`); do not edit by hand._`,
    '',
    `Accuracy and ECE are on the balanced test set (10,000 images), mean ± sample std over seeds. Δ vs CE is the` +
      ` paired per-seed difference (same seed = same initial weights and batch order): mean ± std [min, max] in` +
      ` percentage points; "seeds" counts the seeds where the arm is above ↑ / below ↓ CE; "win"/"loss" only when` +
      ` all of at least 5 seeds agree, else "tie" (no verdict from fewer seeds). Long-tailed training counts per class: ${counts.join(', ')} (` +
      `${groups
        .slice(0, 3)
        .map((g) => `${g.name}: ${classList(g.classes)}`)
        .join('; ')}` +
      `; the few-shot group is empty at imbalance 100 with 6,000 head images, so the rarest three classes are shown too).`,
  ];
  for (const model of MODELS) {
    const ran = whatRan(results, model);
    if (!ran) continue;
    out.push(
      '',
      `### ${model.toUpperCase()}`,
      '',
      ran,
      '',
      'Test accuracy:',
      '',
      ...accuracyTable(results, model),
      '',
      'Long-tailed set, accuracy per class group (training count):',
      '',
      ...groupTable(results, model),
      '',
      'Calibration (ECE, 15 equal-width bins) and test NLL:',
      '',
      ...calibrationTable(results, model),
    );
    const convergence = convergenceTable(results, model);
    if (convergence.length > 0) {
      out.push(
        '',
        'Convergence: test accuracy at half-way, three quarters and the end of the runs (mean over seeds of the means of the three epochs up to each):',
        '',
        ...convergence,
      );
    }
  }
  return out.join('\n');
}

/**
 * The longer-training check (markdown), made from results-longer.json: runs of the grid's (model, set, loss, seed)
 * trained past the grid's epochs. A run's first epochs are the grid run's (same weights, same batch order), so each
 * row reads the same learning curve at the grid's budget, half-way to the longer end, and at the end, and the paired
 * difference to CE of the same seed at the grid's budget and at the end. Returns '' when `longer` has no run of a
 * (model, set) the grid has.
 */
export function longerTrainingSection(longer: ResultsFile, results: ResultsFile): string {
  const rows: string[] = [];
  for (const model of MODELS) {
    for (const set of SETS) {
      const grid = shownRuns(results, model, set);
      const runs = longer.runs
        .filter((r) => r.model === model && r.set === set && r.testAccuracyByEpoch?.length === r.epochs)
        .sort((a, b) => LOSSES.indexOf(a.loss) - LOSSES.indexOf(b.loss) || a.seed - b.seed);
      if (grid.length === 0 || runs.length === 0) continue;
      const budget = grid[0].epochs;
      for (const r of runs) {
        if (r.epochs <= budget) continue;
        const marks = [budget, Math.round((budget + r.epochs) / 2), r.epochs];
        const ce = runs.find((b) => b.loss === 'CE' && b.seed === r.seed && b.epochs === r.epochs);
        const versusCe =
          r.loss === 'CE'
            ? '(baseline)'
            : ce
              ? [budget, r.epochs].map((m) => signed(accuracyUpTo(r, m) - accuracyUpTo(ce, m))).join(' → ')
              : '–';
        rows.push(
          `| ${model.toUpperCase()}, ${set} | ${r.loss} | ${r.seed} | ${marks.join(' / ')} | ${marks.map((m) => pct(accuracyUpTo(r, m))).join(' → ')} | ${versusCe} | ${pct(r.testAccuracy)} | ${[budget, r.epochs].map((m) => r.trainLoss[m - 1].toFixed(3)).join(' → ')} |`,
        );
      }
    }
  }
  if (rows.length === 0) return '';
  return [
    `_Written by \`${COMMAND} report\` from results-longer.json (made by \`${COMMAND} experiment -- … --out results-longer.json\`, see Commands); do not edit by hand._`,
    '',
    "Runs of the grid trained past its epochs. A run's first epochs are the grid run of the same seed (the same initial weights and batch order; `src/results.test.ts` checks them against results.json), so each row is one learning curve read at the grid's budget, half-way to the longer end and at the end (means of the three epochs up to each), with the paired difference to CE of the same seed at the grid's budget and at the end.",
    '',
    '| model, set | loss | seed | epochs: grid / half-way / end | test accuracy %, 3-epoch means | Δ vs CE (pp), grid → end | final test accuracy % | training loss, grid → end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** `readme` with the text between `<!-- name -->` and `<!-- /name -->` replaced by `section`. */
function withSection(readme: string, name: string, section: string): string {
  const start = readme.indexOf(`<!-- ${name} -->`);
  const end = readme.indexOf(`<!-- /${name} -->`);
  if (start < 0 || end < start)
    throw new Error(`README.md has no <!-- ${name} --> … <!-- /${name} --> block`);
  return `${readme.slice(0, start)}<!-- ${name} -->\n${section}\n${readme.slice(end)}`;
}

/**
 * The README with its `<!-- results -->` section written from results.json and, when it has a `<!-- longer -->`
 * block, that one from results-longer.json.
 */
export function withResultsSection(readme: string, results: ResultsFile, longer?: ResultsFile): string {
  const updated = withSection(readme, 'results', resultsSection(results));
  if (!updated.includes('<!-- longer -->')) return updated;
  return withSection(
    updated,
    'longer',
    longer
      ? longerTrainingSection(longer, results)
      : '_No results-longer.json: nothing trained past the grid._',
  );
}
