import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  BLEU,
  type BootstrapResult,
  CHRF,
  corpusBleu,
  corpusChrf,
  invalidOption,
  loadModel,
  pairedBootstrap,
  requirePairs,
  type SentencePair,
  translateTexts,
  withIo,
} from '@encouraging-loss/translate';
import {
  dataFiles,
  existingFolder,
  readParallelData,
  writeFileAtomic,
} from '@encouraging-loss/translate/node';
import { Progress } from '../progress/progress.js';
import { type FileIdentity, fileIdentity, weightFiles } from '../run/run-settings.js';
import { type TrainOptions, type TrainResult, train } from '../train/train.js';
import type { CompareArm } from './arms.js';
import { ALPHA, meanStd } from './summary.js';

/** Trainer options every run of a comparison shares (`--max-steps`, `--lr`, …). */
export type SharedTraining = Omit<
  TrainOptions,
  'train' | 'valid' | 'sourceLanguage' | 'targetLanguage' | 'out' | 'init' | 'loss' | 'seed' | 'targetToken'
>;

/** Options of {@link runCompare}. */
export interface CompareOptions {
  /** The model folder every run fine-tunes. */
  init: string;
  train: string;
  valid?: string;
  test: string;
  /** The folder of the run folders (one per arm and seed) and of `evaluations/`. */
  out: string;
  /** The losses; the first is the baseline of the paired tests. */
  arms: CompareArm[];
  seeds: number[];
  sourceLanguage: string;
  targetLanguage: string;
  targetToken?: string;
  training: SharedTraining;
  /** Beam size on the test set. Default `5`. */
  beam?: number;
  /** Bootstrap resamples. Default `1000`. */
  resamples?: number;
  /** Seed of the resampling. Default `12345` (sacreBLEU's). */
  bootstrapSeed?: number;
  /** The run folder of an arm and seed, under `out`. Default `<loss>-seed<seed>`. */
  runName?: (arm: CompareArm, seed: number) => string;
  /** Say nothing on stderr (the trainer's progress included). */
  quiet?: boolean;
}

/** One fine-tuned run: its scores and paired-bootstrap results on the test set. */
export interface CompareRun {
  seed: number;
  dir: string;
  bleu: number;
  chrf: number;
  /** The trainer's result (`alreadyComplete` when the run folder was complete already). */
  training: TrainResult;
  /** `cached`: the translations of these weights with this beam were already in `evaluations/`. */
  evaluation: 'translated' | 'cached';
  /** Paired bootstrap on this seed's test translations (against the baseline's run of the same seed). */
  bootstrap: { bleu: BootstrapResult; chrf: BootstrapResult };
}

/** One loss over its seeds. */
export interface CompareArmResult {
  name: string;
  label: string;
  /** The core options the loss resolves to. */
  loss: CompareArm['options'];
  bleu: { mean: number; std: number };
  chrf: { mean: number; std: number };
  /** Seeds whose paired test says this arm differs from the baseline (p < 0.05); `null` for the baseline. */
  significant: { bleu: number; chrf: number } | null;
  runs: CompareRun[];
}

/** What {@link runCompare} returns; `compare.json` and `--json` print it. */
export interface CompareResult {
  format: 1;
  /** Stopped by Ctrl-C inside a run (its checkpoint is written; the same command resumes). */
  interrupted: boolean;
  test: { file: string; sentences: number; skipped: number };
  beam: number;
  seeds: number[];
  baseline: string;
  bootstrap: { method: 'paired-bs'; resamples: number; seed: number; alpha: number };
  signatures: { bleu: string; chrf: string };
  arms: CompareArmResult[];
}

/** `evaluations/<run>.json`: a run's test translations and what they were made from. */
interface EvaluationRecord {
  format: 1;
  weights: FileIdentity[];
  test: FileIdentity[];
  beam: number;
  targetToken: string | null;
  hypotheses: string[];
}

const sameFiles = (a: readonly FileIdentity[], b: readonly FileIdentity[]) =>
  a.length === b.length && a.every((f, i) => f.sha256 === b[i].sha256 && f.bytes === b[i].bytes);

function checkOptions(options: CompareOptions): void {
  if (options.arms.length === 0) invalidOption('--losses needs at least one loss.');
  if (options.seeds.length === 0) invalidOption('--seeds needs at least one seed.');
  const beam = options.beam ?? 5;
  if (!Number.isInteger(beam) || beam < 1) invalidOption(`--beam must be a positive integer, got ${beam}.`);
}

/**
 * The test translations of a run folder: from `evaluations/<run>.json` when they were made from the same weights,
 * test files, beam and target token; else translated now (beam search) and recorded there.
 */
async function translateTest(
  dir: string,
  record: string,
  test: { pairs: SentencePair[]; files: FileIdentity[] },
  options: { beam: number; targetToken?: string; quiet?: boolean },
): Promise<{ hypotheses: string[]; evaluation: 'translated' | 'cached' }> {
  const weights = weightFiles(dir).map(fileIdentity);
  const targetToken = options.targetToken ?? null;
  if (existsSync(record)) {
    const text = withIo('read', record, () => readFileSync(record, 'utf8'));
    let saved: Partial<EvaluationRecord> = {};
    try {
      saved = JSON.parse(text);
    } catch {
      // Not ours or damaged: translated anew and replaced below.
    }
    if (
      saved?.format === 1 &&
      saved.beam === options.beam &&
      saved.targetToken === targetToken &&
      Array.isArray(saved.weights) &&
      Array.isArray(saved.test) &&
      Array.isArray(saved.hypotheses) &&
      sameFiles(saved.weights, weights) &&
      sameFiles(saved.test, test.files) &&
      saved.hypotheses.length === test.pairs.length
    ) {
      return { hypotheses: saved.hypotheses, evaluation: 'cached' };
    }
  }
  const { model, tokenizer } = await loadModel(existingFolder(dir), { targetToken: options.targetToken });
  const progress = new Progress({
    label: `test (beam ${options.beam})`,
    total: test.pairs.length,
    unit: 'sent',
    quiet: options.quiet,
  });
  let hypotheses: string[];
  try {
    hypotheses = translateTexts(
      model,
      tokenizer,
      test.pairs.map((p) => p.source),
      { beam: options.beam, onBatch: (done) => progress.update(done) },
    );
  } finally {
    progress.finish();
    model.dispose();
  }
  const saved: EvaluationRecord = {
    format: 1,
    weights,
    test: test.files,
    beam: options.beam,
    targetToken,
    hypotheses,
  };
  withIo('create', dirname(record), () => mkdirSync(dirname(record), { recursive: true }));
  writeFileAtomic(record, `${JSON.stringify(saved)}\n`);
  return { hypotheses, evaluation: 'translated' };
}

/**
 * Fine-tunes `init` once per arm and seed (each run in its own run folder under `out`, so a second call resumes
 * unfinished runs and skips finished ones; a run folder refuses settings other than its own), translates the test
 * set with beam search (translations kept in `out/evaluations/`, reused while the weights are the same), and scores
 * each run: BLEU and chrF, mean ± sample std per arm, and paired bootstrap resampling of each seed's runs against
 * the baseline arm's run of that seed ({@link pairedBootstrap}).
 */
export async function runCompare(options: CompareOptions): Promise<CompareResult> {
  checkOptions(options);
  const beam = options.beam ?? 5;
  const resamples = options.resamples ?? 1000;
  const bootstrapSeed = options.bootstrapSeed ?? 12345;
  const say = (message: string) => {
    if (!options.quiet) process.stderr.write(`${message}\n`);
  };
  const readOptions = {
    sourceLanguage: options.sourceLanguage,
    targetLanguage: options.targetLanguage,
    skipBadLines: options.training.skipBadLines,
  };
  const read = readParallelData(options.test, readOptions);
  const test = {
    pairs: requirePairs(read, options.test),
    files: dataFiles(options.test, readOptions).map(fileIdentity),
  };
  const references = test.pairs.map((p) => p.target);
  const runName = options.runName ?? ((arm: CompareArm, seed: number) => `${arm.name}-seed${seed}`);
  const evaluations = join(options.out, 'evaluations');

  const total = options.arms.length * options.seeds.length;
  const done = new Map<string, { run: Omit<CompareRun, 'bootstrap'>; hypotheses: string[] }>();
  let stage = 0;
  let interrupted = false;
  runs: for (const seed of options.seeds) {
    for (const arm of options.arms) {
      stage += 1;
      const name = runName(arm, seed);
      const dir = join(options.out, name);
      say(`\n[${stage}/${total}] ${arm.label}, seed ${seed} → ${dir}`);
      const training = await train({
        ...options.training,
        train: options.train,
        valid: options.valid,
        sourceLanguage: options.sourceLanguage,
        targetLanguage: options.targetLanguage,
        targetToken: options.targetToken,
        init: options.init,
        out: dir,
        loss: arm.loss,
        seed,
        quiet: options.quiet || options.training.quiet,
      });
      if (training.interrupted) {
        interrupted = true;
        break runs;
      }
      const { hypotheses, evaluation } = await translateTest(dir, join(evaluations, `${name}.json`), test, {
        beam,
        targetToken: options.targetToken,
        quiet: options.quiet,
      });
      const bleu = corpusBleu(hypotheses, [references]).score;
      const chrf = corpusChrf(hypotheses, references).score;
      say(
        `${arm.label}, seed ${seed}: BLEU ${bleu.toFixed(2)} chrF ${chrf.toFixed(2)}${training.alreadyComplete ? ' (run already complete)' : ''}${evaluation === 'cached' ? ' (translations reused)' : ''}`,
      );
      done.set(`${arm.name}/${seed}`, {
        run: { seed, dir, bleu, chrf, training, evaluation },
        hypotheses,
      });
    }
  }
  return summarize(options, { done, interrupted, beam, resamples, bootstrapSeed, references, read });
}

function summarize(
  options: CompareOptions,
  state: {
    done: Map<string, { run: Omit<CompareRun, 'bootstrap'>; hypotheses: string[] }>;
    interrupted: boolean;
    beam: number;
    resamples: number;
    bootstrapSeed: number;
    references: string[];
    read: { skipped: number };
  },
): CompareResult {
  const { done, references } = state;
  const bootstraps = new Map<string, CompareRun['bootstrap']>();
  for (const seed of options.seeds) {
    const arms = options.arms.filter((arm) => done.has(`${arm.name}/${seed}`));
    if (arms.length === 0 || arms[0] !== options.arms[0]) continue;
    const per = (metric: typeof BLEU) => {
      const statistics = arms.map((arm) =>
        metric.statistics(done.get(`${arm.name}/${seed}`)!.hypotheses, references),
      );
      return pairedBootstrap(statistics, metric, { resamples: state.resamples, seed: state.bootstrapSeed });
    };
    const [bleu, chrf] = [per(BLEU), per(CHRF)];
    arms.forEach((arm, i) => {
      bootstraps.set(`${arm.name}/${seed}`, { bleu: bleu[i], chrf: chrf[i] });
    });
  }
  const arms = options.arms.map((arm, a): CompareArmResult => {
    const runs = options.seeds
      .filter((seed) => bootstraps.has(`${arm.name}/${seed}`))
      .map((seed) => ({
        ...done.get(`${arm.name}/${seed}`)!.run,
        bootstrap: bootstraps.get(`${arm.name}/${seed}`)!,
      }));
    const below = (key: 'bleu' | 'chrf') =>
      runs.filter((r) => r.bootstrap[key].pValue !== null && r.bootstrap[key].pValue! < ALPHA).length;
    return {
      name: arm.name,
      label: arm.label,
      loss: arm.options,
      bleu: meanStd(runs.map((r) => r.bleu)),
      chrf: meanStd(runs.map((r) => r.chrf)),
      significant: a === 0 ? null : { bleu: below('bleu'), chrf: below('chrf') },
      runs,
    };
  });
  return {
    format: 1,
    interrupted: state.interrupted,
    test: { file: options.test, sentences: references.length, skipped: state.read.skipped },
    beam: state.beam,
    seeds: options.seeds,
    baseline: options.arms[0].name,
    bootstrap: { method: 'paired-bs', resamples: state.resamples, seed: state.bootstrapSeed, alpha: ALPHA },
    // The metrics' signatures (they depend on options only) with the test's, as sacreBLEU extends them.
    signatures: {
      bleu: `${corpusBleu([], [[]]).signature}|bs:${state.resamples}|seed:${state.bootstrapSeed}`,
      chrf: `${corpusChrf([], []).signature}|bs:${state.resamples}|seed:${state.bootstrapSeed}`,
    },
    arms,
  };
}
