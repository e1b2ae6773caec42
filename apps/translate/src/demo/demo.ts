import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  corpusBleu,
  corpusChrf,
  formatTsv,
  loadModel,
  type SentencePair,
  translateTexts,
} from '@encouraging-loss/translate';
import { existingFolder, exportBest, initNodeBackend } from '@encouraging-loss/translate/node';
import { type CompareArm, parseLosses } from '../compare/arms.js';
import { type CompareResult, runCompare } from '../compare/compare.js';
import { summaryTable, writeCompareFiles } from '../compare/report.js';
import { Progress } from '../progress/progress.js';
import { train } from '../train/train.js';
import { GENERAL, generateCorpus, IN_DOMAIN } from './demo-data.js';
import { emojiLabelPairs } from './emoji-data.js';
import {
  aggregateRows,
  type ChartSeries,
  type DemoRow,
  lineChart,
  markdownTable,
  parseMetrics,
  timeOverheadLine,
} from './report.js';

const runName = (name: string, seed: number, seeds: number[]) =>
  seeds.length > 1 ? `ft-${name}-seed${seed}` : `ft-${name}`;

export { parseSeeds } from '../compare/arms.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  quick: boolean;
  out: string;
  /**
   * Fine-tuning seeds. The data and the base model use the first; each loss is fine-tuned once per seed and the
   * table reports mean ± sample std when there are several.
   */
  seeds: number[];
}

/** Corpus sizes and step counts of the full and the quick demo. */
export const DEMO_SIZES = {
  full: {
    general: 6000,
    generalValid: 150,
    domain: 1500,
    domainValid: 150,
    test: 200,
    baseSteps: 420,
    baseEvals: 3,
    tuneSteps: 150,
    maxTokens: 1200,
    baseLr: 2e-3,
    tuneLr: 1.5e-3,
    validSentences: 40,
    // Evaluations per fine-tune: enough points for a curve in the report.
    tuneEvals: 6,
  },
  quick: {
    general: 1200,
    generalValid: 40,
    domain: 400,
    domainValid: 40,
    test: 50,
    baseSteps: 180,
    baseEvals: 1,
    tuneSteps: 45,
    // Small batches: in a minute, more updates of fewer tokens train further than fewer large ones.
    maxTokens: 400,
    baseLr: 2e-3,
    tuneLr: 2e-3,
    validSentences: 20,
    tuneEvals: 3,
  },
};

/**
 * The four fine-tuning losses of the demo table: `el-translate compare`'s defaults (the paper's MT recipe: CE plain,
 * ε = 0.1 on CE and bonus for the others, CEL logEnd 0.5). CE is the baseline of the paired tests.
 */
export const DEMO_LOSSES: CompareArm[] = parseLosses('ce,ls,el,cel');

function writeData(dir: string, name: string, pairs: SentencePair[]): string {
  const path = join(dir, name);
  if (name.endsWith('.jsonl')) {
    writeFileSync(
      path,
      pairs.map((p) => `${JSON.stringify({ translation: { en: p.source, de: p.target } })}\n`).join(''),
    );
  } else writeFileSync(path, formatTsv(pairs));
  return path;
}

async function evaluate(modelDir: string, test: SentencePair[]): Promise<{ bleu: number; chrf: number }> {
  const { model, tokenizer } = await loadModel(existingFolder(modelDir));
  const progress = new Progress({ label: 'test (beam 5)', total: test.length, unit: 'sent' });
  const hypotheses = translateTexts(
    model,
    tokenizer,
    test.map((p) => p.source),
    { beam: 5, onBatch: (done) => progress.update(done) },
  );
  progress.finish();
  model.dispose();
  const references = test.map((p) => p.target);
  return { bleu: corpusBleu(hypotheses, [references]).score, chrf: corpusChrf(hypotheses, references).score };
}

function lastValidNll(dir: string): number {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return Number.NaN;
  const valid = parseMetrics(readFileSync(path, 'utf8')).filter((r) => r.type === 'valid');
  return valid.length ? (valid[valid.length - 1] as { nll: number }).nll : Number.NaN;
}

/**
 * `el-translate demo`: generates the corpora, trains a base model on the general corpus, fine-tunes it on the
 * in-domain corpus with CE, label-smoothed CE, EL and CEL, evaluates each with beam 5 on the in-domain test set,
 * prints the table and writes `report.md` with SVG curves under `out`.
 */
export async function runDemo(options: DemoOptions): Promise<DemoRow[]> {
  const started = performance.now();
  const sizes = options.quick ? DEMO_SIZES.quick : DEMO_SIZES.full;
  const backend = await initNodeBackend('wasm');
  const out = options.out;
  const { seeds } = options;
  const runs = seeds.flatMap((seed) => DEMO_LOSSES.map((l) => runName(l.name, seed, seeds)));
  // A fresh seeded run: the data and the base model are made anew, so every fine-tune (and its translations) is.
  for (const sub of ['data', 'base', 'evaluations', ...runs])
    rmSync(join(out, sub), { recursive: true, force: true });
  const dataDir = join(out, 'data');
  mkdirSync(dataDir, { recursive: true });
  const s = seeds[0];
  const test = generateCorpus({ seed: s * 100 + 1, size: sizes.test, lexicon: IN_DOMAIN });
  const domainValid = generateCorpus({
    seed: s * 100 + 2,
    size: sizes.domainValid,
    lexicon: IN_DOMAIN,
    exclude: new Set(test.map((p) => p.source)),
  });
  const held = new Set([...test, ...domainValid].map((p) => p.source));
  const domainTrain = generateCorpus({
    seed: s * 100 + 3,
    size: sizes.domain,
    lexicon: IN_DOMAIN,
    exclude: held,
  });
  const generalValid = generateCorpus({ seed: s * 100 + 4, size: sizes.generalValid, lexicon: GENERAL });
  const generalTrain = generateCorpus({
    seed: s * 100 + 5,
    size: sizes.general,
    lexicon: GENERAL,
    exclude: new Set(generalValid.map((p) => p.source)),
  });
  const files = {
    generalTrain: writeData(dataDir, 'general.train.tsv', generalTrain),
    generalValid: writeData(dataDir, 'general.valid.tsv', generalValid),
    domainTrain: writeData(dataDir, 'it.train.jsonl', domainTrain),
    domainValid: writeData(dataDir, 'it.valid.tsv', domainValid),
    test: writeData(dataDir, 'it.test.tsv', test),
    // A real small set for `el-translate eval` (not part of the table: out of both domains).
    emoji: writeData(dataDir, 'emoji.test.tsv', emojiLabelPairs()),
  };
  const say = (message: string) => process.stderr.write(`${message}\n`);
  say(
    `el-translate demo${options.quick ? ' --quick' : ''}: backend ${backend}, data and base seed ${s}, fine-tuning seeds ${seeds.join(', ')}`,
  );
  say(
    `data: general ${generalTrain.length} pairs, in-domain ${domainTrain.length} (valid ${domainValid.length}, test ${test.length})`,
  );

  const common = {
    sourceLanguage: 'en',
    targetLanguage: 'de',
    seed: s,
    quiet: false,
    maxTokens: sizes.maxTokens,
  };
  say(`\n[base] base model on the general corpus (${sizes.baseSteps} steps, CE ε=0.1)`);
  const baseDir = join(out, 'base');
  const base = await train({
    ...common,
    train: files.generalTrain,
    valid: files.generalValid,
    out: baseDir,
    loss: { kind: 'ce', labelSmoothing: 0.1 },
    maxSteps: sizes.baseSteps,
    lr: sizes.baseLr,
    warmup: Math.ceil(sizes.baseSteps / 8),
    evalEvery: Math.ceil(sizes.baseSteps / sizes.baseEvals),
    vocabSize: 900,
    config: 'small',
    validSentences: sizes.validSentences,
  });
  const rows: DemoRow[] = [];
  const baseScore = await evaluate(baseDir, test);
  rows.push({
    name: 'base (general only)',
    loss: 'CE, ε=0.1',
    ...baseScore,
    validNll: Number.NaN,
    tokensPerSecond: base.tokensPerSecond,
    trainSeconds: base.trainSeconds,
  });
  say(`base on in-domain test: BLEU ${baseScore.bleu.toFixed(2)} chrF ${baseScore.chrf.toFixed(2)}`);

  say(
    `\nfine-tuning on the in-domain corpus with ${DEMO_LOSSES.map((l) => l.label).join(' / ')} (${sizes.tuneSteps} steps each): el-translate compare`,
  );
  const comparison = await runCompare({
    init: baseDir,
    train: files.domainTrain,
    valid: files.domainValid,
    test: files.test,
    out,
    arms: DEMO_LOSSES,
    seeds,
    sourceLanguage: 'en',
    targetLanguage: 'de',
    beam: 5,
    runName: (arm, seed) => runName(arm.name, seed, seeds),
    training: {
      maxTokens: sizes.maxTokens,
      maxSteps: sizes.tuneSteps,
      lr: sizes.tuneLr,
      warmup: Math.ceil(sizes.tuneSteps / 10),
      // The demo's recipe, not --init's pretrained-model defaults (linear decay from 5e-5).
      schedule: 'inverse-sqrt',
      evalEvery: Math.ceil(sizes.tuneSteps / sizes.tuneEvals),
      validSentences: sizes.validSentences,
    },
  });
  rows.push(...comparisonRows(comparison));

  const table = markdownTable(rows);
  const wall = (performance.now() - started) / 1000;
  const seedNote = seeds.length > 1 ? `, fine-tunes: mean ± sample std over seeds ${seeds.join(', ')}` : '';
  process.stdout.write(
    `\nIn-domain test (${test.length} sentences, beam 5, sacreBLEU 13a/exp, chrF2${seedNote}):\n\n${table}\n\nwall time ${wall.toFixed(0)} s\n`,
  );
  process.stdout.write(
    `\nLoss comparison (paired bootstrap against CE per seed):\n\n${summaryTable(comparison)}\n\n`,
  );
  const section = await writeCompareFiles(out, comparison, { init: 'base', test: 'data/it.test.tsv' });
  await writeReport(out, rows, table, wall, options, test.length, section);
  process.stdout.write(`report: ${join(out, 'report.md')}\n`);
  const fineTuned = comparison.arms.map((arm) => ({ dir: arm.runs[0].dir, bleu: arm.runs[0].bleu }));
  process.stdout.write(`${exportBest(fineTuned, join(out, 'exported')).join('\n')}\n`);
  return rows;
}

/** The demo table's rows of the fine-tunes: per loss, its seeds' scores, validation NLL and speed, aggregated. */
function comparisonRows(comparison: CompareResult): DemoRow[] {
  return comparison.arms.map((arm) =>
    aggregateRows(
      arm.runs.map((run) => ({
        name: `fine-tuned (${arm.name})`,
        loss: arm.label,
        bleu: run.bleu,
        chrf: run.chrf,
        validNll: lastValidNll(run.dir),
        tokensPerSecond: run.training.tokensPerSecond,
        trainSeconds: run.training.trainSeconds,
      })),
    ),
  );
}

async function writeReport(
  out: string,
  rows: DemoRow[],
  table: string,
  wall: number,
  options: DemoOptions,
  testSize: number,
  comparison: string,
): Promise<void> {
  const { seeds } = options;
  // The curves are of the first seed's runs.
  const runs = DEMO_LOSSES.map((l) => ({
    name: l.label,
    records: parseMetrics(readFileSync(join(out, runName(l.name, seeds[0], seeds), 'metrics.jsonl'), 'utf8')),
  }));
  const curve = (field: 'nll' | 'bonus', type: 'train' | 'valid') =>
    runs.map((r) => ({
      name: r.name,
      points: r.records
        .filter((m) => m.type === type)
        .map((m) => [m.step, (m as unknown as Record<string, number>)[field]] as [number, number]),
    }));
  const chart = (title: string, y: string, series: ChartSeries[]) =>
    lineChart({ title, x: 'fine-tuning step', y, legend: 'fine-tuning loss', series });
  const charts = {
    'train-nll.svg': await chart(
      'Train NLL (unsmoothed, per token)',
      'NLL per token (nats)',
      curve('nll', 'train'),
    ),
    'train-bonus.svg': await chart(
      'Train bonus Σ q·b(p) per token',
      'bonus per token (nats)',
      curve('bonus', 'train'),
    ),
    'valid-nll.svg': await chart('Valid NLL (teacher-forced)', 'NLL per token (nats)', curve('nll', 'valid')),
    'valid-bleu.svg': await chart(
      'Valid BLEU (greedy decoding)',
      'BLEU',
      runs.map((r) => ({
        name: r.name,
        points: r.records
          .filter((m) => m.type === 'valid')
          .map((m) => [m.step, (m as { bleu: number }).bleu] as [number, number]),
      })),
    ),
  };
  for (const [file, svg] of Object.entries(charts)) writeFileSync(join(out, file), svg);
  const ce = rows.find((r) => r.name === 'fine-tuned (ls)');
  const el = rows.find((r) => r.name === 'fine-tuned (el)');
  const report = `# el-translate demo${options.quick ? ' (--quick)' : ''}

${
  seeds.length > 1
    ? `Data and base model seed ${seeds[0]}; each fine-tune ran with seeds ${seeds.join(', ')}, and its row gives the mean ± sample standard deviation (n − 1) over them; the curves are seed ${seeds[0]}'s.`
    : `Seed ${seeds[0]}.`
} A Marian-style transformer (tfjs, wasm backend) trained on a generated general English→German
corpus, then fine-tuned on a generated in-domain (IT support) corpus whose nouns, verbs and adjectives the base
model never saw. Scores on the in-domain test set (${testSize} sentences), beam 5, BLEU with 13a tokenisation and
exp smoothing, chrF with β = 2 and character order 6.

${table}

${timeOverheadLine(ce, el)}
Wall time: ${wall.toFixed(0)} s.

![train NLL](train-nll.svg) ![train bonus](train-bonus.svg)

![valid NLL](valid-nll.svg) ![valid BLEU](valid-bleu.svg)

${comparison}
The fine-tunes are \`el-translate compare\` on the demo's data: the same result comes from
\`el-translate compare --init base --train data/it.train.jsonl --valid data/it.valid.tsv --test data/it.test.tsv\`
with the demo's training flags. Each run's folder (\`ft-*\`, \`base\`) is an HF-layout model folder (config.json,
model.safetensors, tokenizer.json) with \`metrics.jsonl\`; \`evaluations/\` holds the test translations,
\`compare.json\` the comparison, \`data/\` the corpora.
`;
  writeFileSync(join(out, 'report.md'), report);
}
