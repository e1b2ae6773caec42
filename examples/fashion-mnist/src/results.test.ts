import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from './backend.js';
import { IDX_SHA256, loadFashionMnist, longTailIndices, subset } from './fashion-mnist.js';
import { describeLoss } from './losses.js';
import { withResultsSection } from './report-tables.js';
import { type ResultsFile, readResults } from './results.js';
import { TRAINING, trainAndEvaluate } from './train.js';

const COMMAND = 'pnpm --filter @encouraging-loss/example-fashion-mnist run';
const regenerate = `the published figures are stale: re-run \`${COMMAND} experiment -- …\` (the arguments README.md names) and \`${COMMAND} report\`, and commit results.json and README.md`;

describe('the committed results', () => {
  const results = readResults() as ResultsFile;

  it('exist, and were made with the settings and loss definitions of this code', () => {
    expect(results, 'results.json is missing').toBeDefined();
    expect(results.settings.idxSha256).toEqual(IDX_SHA256);
    expect(results.settings.training, regenerate).toEqual(TRAINING);
    for (const run of results.runs) {
      expect(run.lossSettings, `${run.model} ${run.set} ${run.loss} seed ${run.seed}: ${regenerate}`).toEqual(
        describeLoss(run.loss),
      );
    }
  });

  it('README.md shows the section results.json gives', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withResultsSection(readme, results), `run \`${COMMAND} report\``).toBe(readme);
  });

  // One arm re-run: the MLP on the long-tailed set with plain EL (the loss whose definition issue 20 changed),
  // seed 1, as many epochs as results.json records. Runs are deterministic (seeded weights and batch order, tfjs's
  // wasm backend single-threaded in Node): on the machine that wrote the file the numbers match to the last bit.
  // The tolerances allow for another CPU's float rounding (XNNPACK picks its micro-kernels by CPU).
  describe('mlp, long-tailed, EL, seed 1, re-run', () => {
    const recorded = results.runs.find(
      (r) => r.model === 'mlp' && r.set === 'long-tailed' && r.loss === 'EL' && r.seed === 1,
    );
    let rerun: Awaited<ReturnType<typeof trainAndEvaluate>>;
    beforeAll(async () => {
      expect(recorded, 'results.json has no mlp/long-tailed/EL/seed 1 run').toBeDefined();
      await useWasmBackend();
      const data = loadFashionMnist();
      const train = subset(data.train, longTailIndices(data.train.labels).indices);
      rerun = await trainAndEvaluate({
        model: 'mlp',
        loss: 'EL',
        seed: 1,
        epochs: recorded!.epochs,
        train,
        test: data.test,
      });
      // 40 epochs of 117 steps: about 2 minutes alone, more beside the rest of CI on two cores.
    }, 900_000);

    it('reproduces the training loss of every epoch (relative 1e-3)', () => {
      expect(rerun.trainLoss).toHaveLength(recorded!.trainLoss.length);
      rerun.trainLoss.forEach((loss, i) => {
        expect(Math.abs(loss - recorded!.trainLoss[i]), `epoch ${i + 1}: ${regenerate}`).toBeLessThanOrEqual(
          1e-3 * Math.abs(recorded!.trainLoss[i]),
        );
      });
    });

    it('reproduces the test accuracy after every epoch (±0.3 percentage points)', () => {
      expect(recorded!.testAccuracyByEpoch, `the run has no learning curve: ${regenerate}`).toBeDefined();
      expect(rerun.testAccuracyByEpoch).toHaveLength(recorded!.epochs);
      rerun.testAccuracyByEpoch.forEach((accuracy, i) => {
        expect(
          Math.abs(accuracy - recorded!.testAccuracyByEpoch![i]),
          `epoch ${i + 1}: ${regenerate}`,
        ).toBeLessThanOrEqual(0.003);
      });
    });

    it('reproduces test accuracy and ECE (±0.3 percentage points) and per-class accuracy (±1 pp)', () => {
      expect(Math.abs(rerun.accuracy - recorded!.testAccuracy), regenerate).toBeLessThanOrEqual(0.003);
      expect(Math.abs(rerun.ece - recorded!.ece), regenerate).toBeLessThanOrEqual(0.003);
      rerun.perClassAccuracy.forEach((a, c) => {
        expect(Math.abs(a - recorded!.perClassAccuracy[c]), `class ${c}: ${regenerate}`).toBeLessThanOrEqual(
          0.01,
        );
      });
    });
  });
});
