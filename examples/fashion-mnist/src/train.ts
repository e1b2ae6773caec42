import * as tf from '@tensorflow/tfjs-core';
import type { Split } from './fashion-mnist.js';
import { type LossName, lossFunction } from './losses.js';
import { type Evaluation, evaluate } from './metrics.js';
import { createModel, type ModelName } from './models.js';
import { mulberry32, shuffle } from './random.js';

const PIXELS = 784;
const CLASSES = 10;

/** Settings shared by every run (recorded in results.json). */
export const TRAINING = {
  optimizer: 'Adam (tf.train.adam: β1 0.9, β2 0.999, ε 1e-7)',
  learningRate: 1e-3,
  batchSize: 128,
  eceBins: 15,
  initialisation: 'Glorot uniform from mulberry32(1000·seed + 1), zero biases',
  order: 'Fisher–Yates shuffle each epoch from mulberry32(1000·seed + 2); the last batch is partial',
} as const;

/** One training run. */
export interface RunOptions {
  model: ModelName;
  loss: LossName;
  seed: number;
  epochs: number;
  train: Split;
  test: Split;
  /** Trains with this function instead of the named loss (tests: a loss with other options). */
  lossFunction?: (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;
  /** Stops between steps; the run then throws the signal's reason. */
  signal?: AbortSignal;
  /** Called after each epoch with its mean training loss and the test accuracy after it. */
  onEpoch?: (epoch: number, meanLoss: number, testAccuracy: number) => void;
}

/** What a run measured. */
export interface RunResult extends Evaluation {
  /** Mean training loss of each epoch (per example, as the loss reports it). */
  trainLoss: number[];
  /**
   * Test accuracy after each epoch: the learning curve that says whether a run has converged (the last entry is
   * `accuracy`). Measured only; nothing is selected by it.
   */
  testAccuracyByEpoch: number[];
}

function batchTensors(split: Split, order: Int32Array, start: number, size: number) {
  const images = new Float32Array(size * PIXELS);
  const labels = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const j = order[start + i];
    images.set(split.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    labels[i] = split.labels[j];
  }
  return { x: tf.tensor2d(images, [size, PIXELS]), y: tf.tensor1d(labels, 'int32') };
}

/** Softmax probabilities `[N, 10]` of the whole split, computed in chunks. */
function predict(apply: (x: tf.Tensor2D) => tf.Tensor2D, split: Split, chunk = 2000): Float32Array {
  const out = new Float32Array(split.count * CLASSES);
  for (let start = 0; start < split.count; start += chunk) {
    const size = Math.min(chunk, split.count - start);
    const probabilities = tf.tidy(() => {
      const x = tf.tensor2d(split.images.subarray(start * PIXELS, (start + size) * PIXELS), [size, PIXELS]);
      return tf.softmax(apply(x));
    });
    out.set(probabilities.dataSync(), start * CLASSES);
    probabilities.dispose();
  }
  return out;
}

/**
 * Trains `model` with `loss` on `train` for `epochs` (Adam, batch 128, {@link TRAINING}) and evaluates it on
 * `test`. Deterministic: the seed fixes the initial weights and the batch order, and tfjs's wasm backend runs
 * single-threaded in Node, so the same run on the same machine gives the same numbers.
 */
export async function trainAndEvaluate({
  model: modelName,
  loss,
  seed,
  epochs,
  train,
  test,
  signal,
  onEpoch,
  lossFunction: customLoss,
}: RunOptions): Promise<RunResult> {
  const model = createModel(modelName, mulberry32(1000 * seed + 1));
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  const random = mulberry32(1000 * seed + 2);
  const optimizer = tf.train.adam(TRAINING.learningRate);
  const lossOf = customLoss ?? lossFunction(loss);
  const trainLoss: number[] = [];
  const testAccuracyByEpoch: number[] = [];
  let evaluation: Evaluation | undefined;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      shuffle(order, random);
      let sum = 0;
      for (let start = 0, step = 0; start < train.count; start += TRAINING.batchSize, step++) {
        // The steps are synchronous: let the event loop run now and then (a Ctrl-C, a progress line).
        if (step % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
        signal?.throwIfAborted();
        const size = Math.min(TRAINING.batchSize, train.count - start);
        const { x, y } = batchTensors(train, order, start, size);
        const cost = optimizer.minimize(() => lossOf(model.apply(x), y), true, model.variables);
        sum += (cost as tf.Scalar).dataSync()[0] * size;
        tf.dispose([x, y, cost as tf.Scalar]);
      }
      trainLoss.push(sum / train.count);
      evaluation = evaluate(predict(model.apply, test), test.labels, CLASSES, { bins: TRAINING.eceBins });
      testAccuracyByEpoch.push(evaluation.accuracy);
      onEpoch?.(epoch, sum / train.count, evaluation.accuracy);
    }
    if (evaluation === undefined) throw new RangeError(`epochs must be at least 1, got ${epochs}`);
    return { ...evaluation, trainLoss, testAccuracyByEpoch };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
