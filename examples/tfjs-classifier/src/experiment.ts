import { categoricalEncouragingLoss } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Dataset, gaussianMixture } from './data.js';

/** The losses compared: tfjs's own cross-entropy, EL, and Conservative EL at two tangent points. */
export const LOSSES = ['CE', 'EL', 'CEL(0.75)', 'CEL(0.5)'] as const;
export type LossName = (typeof LOSSES)[number];

/** Settings of one run. */
export interface RunOptions {
  loss: LossName;
  seed: number;
  epochs?: number;
  perClass?: number;
}

function lossFor(name: LossName) {
  switch (name) {
    case 'CE':
      return 'categoricalCrossentropy';
    case 'EL':
      return categoricalEncouragingLoss({ logEnd: 1 });
    case 'CEL(0.75)':
      return categoricalEncouragingLoss({ logEnd: 0.75 });
    case 'CEL(0.5)':
      return categoricalEncouragingLoss({ logEnd: 0.5 });
  }
}

const tensors = (data: Dataset) => ({
  x: tf.tensor2d(data.features, [data.count, data.dimensions]),
  y: tf.oneHot(tf.tensor1d(data.labels, 'int32'), data.classes),
  labels: tf.tensor1d(data.labels, 'int32'),
});

/**
 * Trains a 2-hidden-layer MLP on one seeded Gaussian-mixture task (8 classes in 10-D, overlapping) and returns its
 * test accuracy. The task is the same for every seed; the seed draws the training sample and the initial weights.
 */
export async function runOnce({ loss, seed, epochs = 40, perClass = 60 }: RunOptions): Promise<number> {
  const task = { classes: 8, dimensions: 10, spread: 1, taskSeed: 2022 };
  const train = tensors(gaussianMixture({ ...task, perClass, sampleSeed: 1000 + seed }));
  const test = tensors(gaussianMixture({ ...task, perClass: 250, sampleSeed: 9999 }));
  const model = tfl.sequential();
  const init = (offset: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + offset });
  model.add(
    tfl.layers.dense({ units: 64, activation: 'relu', inputShape: [10], kernelInitializer: init(1) }),
  );
  model.add(tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tfl.layers.dense({ units: 8, activation: 'softmax', kernelInitializer: init(3) }));
  model.compile({ optimizer: tf.train.adam(0.01), loss: lossFor(loss) });
  // No shuffling (tfjs-layers would use Math.random): with the seeded sample and weights, every run reproduces.
  await model.fit(train.x, train.y, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
  const accuracy = tf.tidy(() => {
    const predicted = tf.argMax(model.predict(test.x) as tf.Tensor, -1);
    return tf.mean(tf.cast(tf.equal(predicted, test.labels), 'float32')).dataSync()[0];
  });
  model.dispose();
  tf.dispose([train.x, train.y, train.labels, test.x, test.y, test.labels]);
  return accuracy;
}

/** Mean and sample standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance =
    values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** One loss's row of results.json. */
export interface ResultRow {
  loss: LossName;
  accuracies: number[];
  mean: number;
  std: number;
}

/** The README's results table, made from results.json's rows (so the published figures are the code's). */
export function resultsTable(rows: readonly ResultRow[]): string {
  const percent = (v: number) => (100 * v).toFixed(2);
  return [
    '| loss | accuracy % (mean ± std) | per seed |',
    '| --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.loss} | ${percent(r.mean)} ± ${percent(r.std)} | ${r.accuracies.map((a) => (100 * a).toFixed(1)).join(', ')} |`,
    ),
  ].join('\n');
}

/** Replaces the README's table between its `<!-- results -->` and `<!-- /results -->` markers. */
export function withResultsTable(readme: string, rows: readonly ResultRow[]): string {
  const start = readme.indexOf('<!-- results -->');
  const end = readme.indexOf('<!-- /results -->');
  if (start < 0 || end < start)
    throw new Error('README.md has no <!-- results --> … <!-- /results --> block');
  return `${readme.slice(0, start)}<!-- results -->\n${resultsTable(rows)}\n${readme.slice(end)}`;
}
