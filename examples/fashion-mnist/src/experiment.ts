// pnpm --filter @encouraging-loss/example-fashion-mnist run experiment -- [--models mlp,cnn] [--sets …] [--losses …]
//   [--seeds 1,2,3,4,5] [--epochs balanced=15,long-tailed=40] [--data DIR] [--out FILE] [--fresh]
// Trains every (model, set, loss, seed) asked for and writes each run into results.json as soon as it ends. Runs
// already in the file with the same settings are kept, so Ctrl-C loses at most the current run and the same
// command resumes; a run whose settings changed (epochs, a loss default) is run again.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useWasmBackend } from './backend.js';
import { DEBIAN_DATA_DIR, IDX_SHA256, loadFashionMnist, longTailIndices, subset } from './fashion-mnist.js';
import { describeLoss, LOSSES, type LossName } from './losses.js';
import { createModel, MODELS, type ModelName } from './models.js';
import { mulberry32 } from './random.js';
import {
  isCurrent,
  type ResultsFile,
  readResults,
  SETS,
  type SetName,
  withResultsLock,
  writeResults,
} from './results.js';
import { TRAINING, trainAndEvaluate } from './train.js';

/**
 * Epochs per training set unless --epochs says otherwise, chosen for convergence from learning curves (test accuracy
 * after every epoch, MLP seed 1): on the balanced set CE's reaches its plateau (88.5–89.3 %) by epoch 12 of 25; on
 * the long-tailed set (a quarter of the images, 117 steps an epoch) plain EL's rises until about epoch 30 and then
 * moves within ±1 point to epoch 60. The README's convergence table checks every arm.
 */
export const DEFAULT_EPOCHS: Record<SetName, number> = { balanced: 15, 'long-tailed': 40 };

function list<T extends string>(value: string, allowed: readonly T[], name: string): T[] {
  const items = value.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`--${name}: ${JSON.stringify(item)} is not one of ${allowed.join(', ')}`);
    }
  }
  return items as T[];
}

// --epochs 5 (every set) or --epochs balanced=3,long-tailed=8.
function epochsOption(value: string | undefined): Record<SetName, number> {
  const epochs = { ...DEFAULT_EPOCHS };
  for (const part of value ? value.split(',') : []) {
    const [set, count] = part.includes('=') ? part.split('=') : [undefined, part];
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--epochs: ${JSON.stringify(part)} is not a positive integer`);
    for (const s of set === undefined ? SETS : list(set, SETS, 'epochs')) epochs[s] = n;
  }
  return epochs;
}

// `pnpm run experiment -- --models …` hands the script a literal `--` first (pnpm 12 passes it on): skip it, or
// parseArgs would read every option after it as a positional.
const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    models: { type: 'string', default: MODELS.join(',') },
    sets: { type: 'string', default: SETS.join(',') },
    losses: { type: 'string', default: LOSSES.join(',') },
    seeds: { type: 'string', default: '1,2,3,4,5' },
    epochs: { type: 'string' },
    data: { type: 'string', default: DEBIAN_DATA_DIR },
    out: { type: 'string' },
    fresh: { type: 'boolean', default: false },
  },
});
const models = list(values.models, MODELS, 'models');
const sets = list(values.sets, SETS, 'sets');
const losses = list(values.losses, LOSSES, 'losses');
const seeds = values.seeds.split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--seeds: ${JSON.stringify(s)} is not an integer >= 0`);
  return n;
});
const epochs = epochsOption(values.epochs);
const out = values.out ?? fileURLToPath(new URL('../results.json', import.meta.url));

await useWasmBackend();

const data = loadFashionMnist(values.data);
const longTail = longTailIndices(data.train.labels);
const trainSets: Record<SetName, typeof data.train> = {
  balanced: data.train,
  'long-tailed': subset(data.train, longTail.indices),
};
const settings: ResultsFile['settings'] = {
  idxSha256: IDX_SHA256,
  training: TRAINING,
  longTailedCounts: longTail.counts,
  models: Object.fromEntries(MODELS.map((m) => [m, createModel(m, mulberry32(0)).description])) as Record<
    ModelName,
    string
  >,
};
// createModel above made variables only to read the descriptions.
tf.disposeVariables();

const previous = values.fresh ? undefined : readResults(out);
if (previous && JSON.stringify(previous.settings) !== JSON.stringify(settings)) {
  console.error(
    `${out} was made with other settings (data, optimizer, long-tailed counts or models); ` +
      'add --fresh to start it again.',
  );
  process.exit(2);
}
const results: ResultsFile = {
  description:
    'Fashion-MNIST, tfjs wasm: test accuracy, per-class accuracy, ECE (15 bins) and NLL of each (model, set, loss, seed) run. Written by `pnpm --filter @encouraging-loss/example-fashion-mnist run experiment`; README.md is written from it by `… run report`.',
  settings,
  environment: { node: process.version, backend: tf.getBackend(), updated: new Date().toISOString() },
  runs: previous?.runs ?? [],
};

const controller = new AbortController();
process.on('SIGINT', () => controller.abort(new Error('interrupted')));

// Seed by seed: an interrupted experiment leaves at most one seed without all its arms (the report leaves such a
// seed out until it is complete, so paired comparisons stay whole).
const plan = seeds.flatMap((seed) =>
  models.flatMap((model) => sets.flatMap((set) => losses.map((loss) => ({ model, set, loss, seed })))),
);
const todo = plan.filter(
  (p) => !results.runs.some((r) => isCurrent(r, p.model, p.set, p.loss, p.seed, epochs[p.set])),
);
console.error(
  `${plan.length} runs asked for, ${plan.length - todo.length} already in ${out}, ${todo.length} to run ` +
    `(epochs: ${sets.map((t) => `${t} ${epochs[t]}`).join(', ')}; data: ${data.dir}, SHA-256 checked)`,
);
const started = Date.now();
for (const [i, { model, set, loss, seed }] of todo.entries()) {
  const label = `[${i + 1}/${todo.length}] ${model} ${set} ${loss} seed ${seed}`;
  const t0 = Date.now();
  let result: Awaited<ReturnType<typeof trainAndEvaluate>>;
  try {
    result = await trainAndEvaluate({
      model,
      loss: loss as LossName,
      seed,
      epochs: epochs[set],
      train: trainSets[set],
      test: data.test,
      signal: controller.signal,
      onEpoch: (epoch, meanLoss, accuracy) =>
        console.error(
          `${label}: epoch ${epoch}/${epochs[set]} loss ${meanLoss.toFixed(4)} test ${(100 * accuracy).toFixed(2)} % (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
        ),
    });
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    console.error(`\nstopped: ${i} runs of ${todo.length} written to ${out}; the same command resumes.`);
    process.exit(130);
  }
  const seconds = (Date.now() - t0) / 1000;
  // Another experiment may be writing the same file (say, one per training set on a two-core machine): under the
  // file's lock, start from what the file holds now, so its runs are kept. The write itself is atomic (results.ts).
  withResultsLock(out, () => {
    const current = readResults(out);
    if (current && JSON.stringify(current.settings) === JSON.stringify(settings)) results.runs = current.runs;
    results.runs = results.runs.filter(
      (r) => !(r.model === model && r.set === set && r.loss === loss && r.seed === seed),
    );
    results.runs.push({
      model,
      set,
      loss,
      seed,
      epochs: epochs[set],
      lossSettings: describeLoss(loss),
      testAccuracy: result.accuracy,
      perClassAccuracy: result.perClassAccuracy,
      ece: result.ece,
      nll: result.nll,
      trainLoss: result.trainLoss,
      testAccuracyByEpoch: result.testAccuracyByEpoch,
      seconds,
    });
    results.environment.updated = new Date().toISOString();
    writeResults(results, out);
  });
  const elapsed = (Date.now() - started) / 1000;
  const eta = (elapsed / (i + 1)) * (todo.length - i - 1);
  console.error(
    `${label}: test accuracy ${(100 * result.accuracy).toFixed(2)} %, ECE ${(100 * result.ece).toFixed(2)} %, ` +
      `${seconds.toFixed(0)} s; elapsed ${(elapsed / 60).toFixed(1)} min, ETA ${(eta / 60).toFixed(1)} min`,
  );
}
console.error(`done: ${results.runs.length} runs in ${out}`);
