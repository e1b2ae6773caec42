import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { lossPreset } from '@encouraging-loss/core';
import { categoricalEncouragingLoss } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { yieldToBrowser } from '../ui.js';
import { spirals, type Task } from './task.js';

export const RUN_NAMES = ['CE', 'EL', 'CEL'] as const;
export type RunName = (typeof RUN_NAMES)[number];

/** The controls of the Train view. */
export interface TrainSettings {
  seed: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  hiddenUnits: number;
  /** CEL's tangent point. */
  logEnd: number;
  /** ρ of EL and CEL. */
  bonusWeight: number;
  /** Noise of the spiral arms. */
  noise: number;
  /**
   * The CE run's loss: `'library'` is `categoricalEncouragingLoss({ bonusWeight: 0 })`, `'tfjs'` tfjs-layers' own
   * `'categoricalCrossentropy'` (the baseline a speed comparison is made against).
   */
  crossEntropy: 'library' | 'tfjs';
}

export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  seed: 1,
  epochs: 30,
  learningRate: 0.01,
  batchSize: 32,
  hiddenUnits: 32,
  logEnd: 0.5,
  bonusWeight: 1,
  noise: 0.08,
  crossEntropy: 'library',
};

export const CLASSES = 3;

/** Per-epoch figures of one run. */
export interface EpochReport {
  run: RunName;
  epoch: number;
  /** Mean training loss of the epoch (the run's own objective; EL's includes the negative bonus). */
  trainLoss: number;
  testAccuracy: number;
  /** Test cross-entropy −mean log p_y: comparable across the three runs. */
  testCrossEntropy: number;
  /** Softmax probabilities on the boundary grid `[G·G, K]`. */
  grid: Float32Array;
  /** Optimizer steps of this run per second spent in its `model.fit` calls so far. */
  stepsPerSecond: number;
}

/** The core options of each run: CE is the same loss with no bonus, so all three go through the same code. */
function lossOptions(run: RunName, settings: TrainSettings) {
  switch (run) {
    case 'CE':
      return lossPreset('ce');
    case 'EL':
      return lossPreset('el', { bonusWeight: settings.bonusWeight });
    case 'CEL':
      return lossPreset('cel', { bonusWeight: settings.bonusWeight, logEnd: settings.logEnd });
  }
}

function buildModel(run: RunName, settings: TrainSettings): tfl.LayersModel {
  const model = tfl.sequential();
  // Same seed for the three runs: they start from the same weights and differ only in the loss.
  const init = (offset: number) => tfl.initializers.glorotUniform({ seed: settings.seed * 10 + offset });
  const units = settings.hiddenUnits;
  model.add(tfl.layers.dense({ units, activation: 'relu', inputShape: [2], kernelInitializer: init(1) }));
  model.add(tfl.layers.dense({ units, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(3) }));
  model.compile({
    optimizer: tf.train.adam(settings.learningRate),
    loss:
      run === 'CE' && settings.crossEntropy === 'tfjs'
        ? 'categoricalCrossentropy'
        : categoricalEncouragingLoss(lossOptions(run, settings)),
  });
  return model;
}

/** The points of the decision-boundary picture: a G×G grid over [−extent, extent]², row by row from the top. */
export function boundaryGrid(size: number, extent: number): Float32Array {
  const grid = new Float32Array(size * size * 2);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const i = row * size + col;
      grid[2 * i] = -extent + (2 * extent * (col + 0.5)) / size;
      grid[2 * i + 1] = extent - (2 * extent * (row + 0.5)) / size;
    }
  }
  return grid;
}

export const GRID_SIZE = 60;
export const GRID_EXTENT = 1.3;

/** Handle of a running comparison. */
export interface Training {
  /** Stops after the current batch; `done` then resolves with what was trained. */
  stop(): void;
  done: Promise<{ steps: number; seconds: number; stopped: boolean }>;
}

/** The train and test sets of a seed (the test set has its own sample seed). */
export function taskFor(settings: TrainSettings): { train: Task; test: Task } {
  return {
    train: spirals({ classes: CLASSES, perClass: 100, noise: settings.noise, seed: settings.seed }),
    test: spirals({ classes: CLASSES, perClass: 200, noise: settings.noise, seed: 100_000 + settings.seed }),
  };
}

/**
 * Trains CE, EL and CEL on the same seeded task, one epoch of each in turn, reporting after every epoch. Yields
 * to the browser between batches at least every ~25 ms, so the page never freezes.
 */
export function trainThree(settings: TrainSettings, onEpoch: (report: EpochReport) => void): Training {
  let stopped = false;
  const models = new Map<RunName, tfl.LayersModel>();
  const done = (async () => {
    const { train, test } = taskFor(settings);
    const x = tf.tensor2d(train.points, [train.count, 2]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(train.labels, 'int32'), CLASSES));
    const testX = tf.tensor2d(test.points, [test.count, 2]);
    const testLabels = tf.tensor1d(test.labels, 'int32');
    const gridX = tf.tensor2d(boundaryGrid(GRID_SIZE, GRID_EXTENT), [GRID_SIZE * GRID_SIZE, 2]);
    for (const run of RUN_NAMES) models.set(run, buildModel(run, settings));
    let steps = 0;
    const runSteps = new Map(RUN_NAMES.map((run) => [run, { steps: 0, milliseconds: 0 }]));
    let lastYield = performance.now();
    const start = performance.now();
    try {
      for (let epoch = 0; epoch < settings.epochs && !stopped; epoch++) {
        for (const run of RUN_NAMES) {
          const model = models.get(run)!;
          // No shuffling (tfjs-layers would use Math.random): the seed alone fixes every run.
          const fitStart = performance.now();
          const stepsBefore = steps;
          const history = await model.fit(x, y, {
            epochs: epoch + 1,
            initialEpoch: epoch,
            batchSize: settings.batchSize,
            shuffle: false,
            verbose: 0,
            callbacks: {
              onBatchEnd: async () => {
                steps++;
                if (stopped) model.stopTraining = true;
                if (performance.now() - lastYield > 25) {
                  await yieldToBrowser();
                  lastYield = performance.now();
                }
              },
            },
          });
          const timing = runSteps.get(run)!;
          timing.steps += steps - stepsBefore;
          timing.milliseconds += performance.now() - fitStart;
          const evaluation = tf.tidy(() => {
            const probabilities = model.predict(testX) as tf.Tensor2D;
            const predicted = tf.argMax(probabilities, -1);
            const accuracy = tf.mean(tf.cast(tf.equal(predicted, testLabels), 'float32'));
            const picked = tf.sum(tf.mul(probabilities, tf.oneHot(testLabels, CLASSES)), -1);
            const crossEntropy = tf.neg(tf.mean(tf.log(tf.maximum(picked, 1e-12))));
            return [accuracy, crossEntropy, model.predict(gridX) as tf.Tensor];
          });
          const [accuracy, crossEntropy, grid] = await Promise.all(evaluation.map((t) => t.data()));
          tf.dispose(evaluation);
          onEpoch({
            run,
            epoch: epoch + 1,
            trainLoss: Number(history.history.loss.at(-1)),
            stepsPerSecond: (1000 * timing.steps) / timing.milliseconds,
            testAccuracy: accuracy[0],
            testCrossEntropy: crossEntropy[0],
            grid: grid as Float32Array,
          });
          await yieldToBrowser();
          lastYield = performance.now();
          if (stopped) break;
        }
      }
    } finally {
      tf.dispose([x, y, testX, testLabels, gridX]);
      for (const model of models.values()) {
        model.optimizer.dispose(); // created here, so not owned (and not disposed) by the model
        model.dispose();
      }
    }
    return { steps, seconds: (performance.now() - start) / 1000, stopped };
  })();
  return {
    stop: () => {
      stopped = true;
    },
    done,
  };
}
