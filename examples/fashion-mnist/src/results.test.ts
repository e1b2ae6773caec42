import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from './backend.js';
import { IDX_SHA256, loadFashionMnist, longTailIndices, subset } from './fashion-mnist.js';
import { describeLoss, type LossName } from './losses.js';
import type { ModelName } from './models.js';
import { withResultsSection } from './report-tables.js';
import { LONGER_RESULTS_URL, type ResultsFile, type RunRecord, readResults } from './results.js';
import { TRAINING, trainAndEvaluate } from './train.js';

const COMMAND = 'pnpm --filter @encouraging-loss/example-fashion-mnist run';
const regenerate = `the published figures are stale: re-run \`${COMMAND} experiment -- …\` (the arguments README.md names) and \`${COMMAND} report\`, and commit results.json and README.md`;

const results = readResults() as ResultsFile;
const longer = readResults(LONGER_RESULTS_URL);

/** Each run's recorded loss options must be what the code computes now (a changed default makes figures stale). */
function expectCurrentLossSettings(runs: readonly RunRecord[]) {
  for (const run of runs) {
    expect(run.lossSettings, `${run.model} ${run.set} ${run.loss} seed ${run.seed}: ${regenerate}`).toEqual(
      describeLoss(run.loss),
    );
  }
}

describe('the committed results', () => {
  /** results.json's long-tailed run of `model`/`loss`, seed 1, and the same run trained again here for `epochs`. */
  function longTailedRerun(model: ModelName, loss: LossName, epochs: (recorded: RunRecord) => number) {
    const recorded = results.runs.find(
      (r) => r.model === model && r.set === 'long-tailed' && r.loss === loss && r.seed === 1,
    );
    const state = {} as { recorded: RunRecord; rerun: Awaited<ReturnType<typeof trainAndEvaluate>> };
    beforeAll(async () => {
      expect(recorded, `results.json has no ${model}/long-tailed/${loss}/seed 1 run`).toBeDefined();
      state.recorded = recorded!;
      await useWasmBackend();
      const data = loadFashionMnist();
      const train = subset(data.train, longTailIndices(data.train.labels).indices);
      state.rerun = await trainAndEvaluate({
        model,
        loss,
        seed: 1,
        epochs: epochs(recorded!),
        train,
        test: data.test,
      });
    }, 900_000);
    return state;
  }

  it('exist, and were made with the settings and loss definitions of this code', () => {
    expect(results, 'results.json is missing').toBeDefined();
    expect(results.settings.idxSha256).toEqual(IDX_SHA256);
    expect(results.settings.training, regenerate).toEqual(TRAINING);
    expectCurrentLossSettings(results.runs);
  });

  it('README.md shows the sections results.json and results-longer.json give', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withResultsSection(readme, results, longer), `run \`${COMMAND} report\``).toBe(readme);
  });

  // One arm re-run: the MLP on the long-tailed set with plain EL (the loss whose definition issue 20 changed),
  // seed 1, as many epochs as results.json records. Runs are deterministic (seeded weights and batch order, tfjs's
  // wasm backend single-threaded in Node): on the machine that wrote the file the numbers match to the last bit.
  // The tolerances allow for another CPU's float rounding (XNNPACK picks its micro-kernels by CPU).
  describe('mlp, long-tailed, EL, seed 1, re-run', () => {
    const run = longTailedRerun('mlp', 'EL', (recorded) => recorded.epochs);
    // 40 epochs of 117 steps: about 2 minutes alone, more beside the rest of CI on two cores.

    it('reproduces the training loss of every epoch (relative 1e-3)', () => {
      expect(run.rerun.trainLoss).toHaveLength(run.recorded.trainLoss.length);
      run.rerun.trainLoss.forEach((loss, i) => {
        expect(
          Math.abs(loss - run.recorded.trainLoss[i]),
          `epoch ${i + 1}: ${regenerate}`,
        ).toBeLessThanOrEqual(1e-3 * Math.abs(run.recorded.trainLoss[i]));
      });
    });

    it('reproduces the test accuracy after every epoch (±0.3 percentage points)', () => {
      expect(run.recorded.testAccuracyByEpoch, `the run has no learning curve: ${regenerate}`).toBeDefined();
      expect(run.rerun.testAccuracyByEpoch).toHaveLength(run.recorded.epochs);
      run.rerun.testAccuracyByEpoch.forEach((accuracy, i) => {
        expect(
          Math.abs(accuracy - run.recorded.testAccuracyByEpoch![i]),
          `epoch ${i + 1}: ${regenerate}`,
        ).toBeLessThanOrEqual(0.003);
      });
    });

    it('reproduces test accuracy and ECE (±0.3 percentage points) and per-class accuracy (±1 pp)', () => {
      expect(Math.abs(run.rerun.accuracy - run.recorded.testAccuracy), regenerate).toBeLessThanOrEqual(0.003);
      expect(Math.abs(run.rerun.ece - run.recorded.ece), regenerate).toBeLessThanOrEqual(0.003);
      run.rerun.perClassAccuracy.forEach((a, c) => {
        expect(
          Math.abs(a - run.recorded.perClassAccuracy[c]),
          `class ${c}: ${regenerate}`,
        ).toBeLessThanOrEqual(0.01);
      });
    });
  });

  // The CNN's grid is too long to re-run here (40 epochs of 117 steps at ~115 ms a step): its first epoch is. A seed's
  // first epoch is the same in a 1-epoch run and in a 40-epoch one (the weights, the batch order and the evaluation
  // after the epoch depend on nothing later), so this checks that the CNN code here (its patches, pooling and their
  // gradients) is the code that made the file's CNN runs.
  describe('cnn, long-tailed, CEL(0.5), seed 1, first epoch re-run', () => {
    const run = longTailedRerun('cnn', 'CEL(0.5)', () => 1);

    // CEL(0.5)'s first-epoch loss is near zero (its bonus nearly cancels CE), so the loss gets an absolute tolerance:
    // 1e-3 nats per example.
    it('reproduces the first epoch: training loss (±1e-3) and test accuracy after it (±0.3 pp)', () => {
      expect(run.recorded.testAccuracyByEpoch, `the run has no learning curve: ${regenerate}`).toBeDefined();
      expect(Math.abs(run.rerun.trainLoss[0] - run.recorded.trainLoss[0]), regenerate).toBeLessThanOrEqual(
        1e-3,
      );
      expect(
        Math.abs(run.rerun.accuracy - run.recorded.testAccuracyByEpoch![0]),
        regenerate,
      ).toBeLessThanOrEqual(0.003);
    });
  });
});

// The longer-training check (README "Longer training"): grid runs trained on past the grid's epochs, in their own file.
describe('the longer-training runs', () => {
  it("were made with the grid's settings and this code's loss definitions", () => {
    expect(longer, 'results-longer.json is missing').toBeDefined();
    expect(longer!.settings, regenerate).toEqual(results.settings);
    expectCurrentLossSettings(longer!.runs);
  });

  // What lets the README read one learning curve at the grid's budget and past it: a longer run's first epochs are
  // the grid run (same weights, same batch order), so they must agree with results.json's run of that seed.
  it('extend runs of results.json: their first epochs are the grid run of the same seed', () => {
    for (const run of longer?.runs ?? []) {
      const name = `${run.model} ${run.set} ${run.loss} seed ${run.seed}`;
      const grid = results.runs.find(
        (r) => r.model === run.model && r.set === run.set && r.loss === run.loss && r.seed === run.seed,
      );
      expect(grid, `results.json has no ${name} run`).toBeDefined();
      expect(run.epochs, name).toBeGreaterThan(grid!.epochs);
      expect(grid!.testAccuracyByEpoch, `${name}: the grid run has no learning curve`).toBeDefined();
      grid!.trainLoss.forEach((loss, i) => {
        expect(Math.abs(run.trainLoss[i] - loss), `${name}, epoch ${i + 1}`).toBeLessThanOrEqual(
          1e-3 * Math.max(1, Math.abs(loss)),
        );
      });
      grid!.testAccuracyByEpoch!.forEach((accuracy, i) => {
        expect(
          Math.abs(run.testAccuracyByEpoch![i] - accuracy),
          `${name}, epoch ${i + 1}`,
        ).toBeLessThanOrEqual(0.003);
      });
    }
  });
});
