// `pnpm --filter @encouraging-loss/example-fashion-mnist run bonus-floor`: plain EL (logEnd 1) on the first 2,000
// training images, MLP, seed 1, with the official floor on 1 − p (bonusFloor 1e-5, the default) and without it
// (bonusFloor 0): the mean training loss per epoch and the test accuracy, as the table in docs/encouraging-loss.md.
import { encouragingLoss } from '@encouraging-loss/tfjs';
import type * as tf from '@tensorflow/tfjs-core';
import { useWasmBackend } from './backend.js';
import { loadFashionMnist, subset } from './fashion-mnist.js';
import { trainAndEvaluate } from './train.js';

await useWasmBackend();
const data = loadFashionMnist();
const small = subset(
  data.train,
  Int32Array.from({ length: 2000 }, (_, i) => i),
);
const epochs = 6;
console.log(`| bonusFloor | mean training loss, epochs 1–${epochs} | test accuracy |`);
console.log('| --- | --- | --- |');
for (const bonusFloor of [1e-5, 0]) {
  const run = await trainAndEvaluate({
    model: 'mlp',
    loss: 'EL',
    seed: 1,
    epochs,
    train: small,
    test: data.test,
    lossFunction: (logits: tf.Tensor2D, labels: tf.Tensor1D) =>
      encouragingLoss(logits, labels, { logEnd: 1, bonusFloor }) as tf.Scalar,
  });
  const losses = run.trainLoss.map((loss) => loss.toFixed(1)).join(', ');
  console.log(`| ${bonusFloor} | ${losses} | ${(run.accuracy * 100).toFixed(1)} % |`);
}
