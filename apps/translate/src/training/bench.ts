import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { IGNORE_INDEX, type LossSettings, lossOptions, tokenLoss } from './loss.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * `el-translate bench`: the time of one training step (forward, loss, backward) of the demo's `small` model with
 * EL and CEL against CE (label smoothing 0.1 everywhere, padding masked), all from `@encouraging-loss/tfjs`, and
 * tfjs's own `tf.losses.softmaxCrossEntropy` as an outside reference; interleaved so load changes hit all alike. Writes
 * `bench/results.json` in the format the root `pnpm bench` gathers (ratios to the CE baseline).
 */
export async function runBench(options: { out: string; repeats?: number }): Promise<void> {
  const backend = await initBackend('wasm');
  const repeats = options.repeats ?? 15;
  const config = makeConfig(900, 'small');
  const rng = new Rng(1);
  const model = new MarianModel(config, rng);
  const [b, s, t] = [48, 20, 22];
  const random = (n: number) => Int32Array.from({ length: n }, () => 3 + rng.int(config.vocab_size - 3));
  const source = tf.tensor2d(random(b * s), [b, s], 'int32');
  const decoderInput = tf.tensor2d(random(b * t), [b, t], 'int32');
  const labelIds = random(b * t);
  const labels = tf.tensor1d(labelIds, 'int32');
  // The last two positions of every row are padding, as in a real batch.
  const maskedLabels = tf.tensor2d(
    labelIds.map((id, i) => (i % t < t - 2 ? id : IGNORE_INDEX)),
    [b, t],
    'int32',
  );
  // tfjs's own label-smoothed cross-entropy, padding masked by weights: a reference outside our kernel.
  const mask = tf.tensor2d(
    Array.from({ length: b * t }, (_, i) => (i % t < t - 2 ? 1 : 0)),
    [b, t],
  );
  const oneHot = tf.tidy(() => tf.reshape(tf.oneHot(labels, config.vocab_size), [b, t, config.vocab_size]));
  const tfjsCrossEntropy = (logits: tf.Tensor) =>
    tf.losses.softmaxCrossEntropy(oneHot, logits, mask, 0.1, tf.Reduction.SUM) as tf.Scalar;
  const variants: { name: string; loss: LossSettings | 'tfjs' }[] = [
    { name: 'CE ε=0.1', loss: { kind: 'ce', labelSmoothing: 0.1 } },
    { name: 'EL ε=0.1', loss: { kind: 'el', labelSmoothing: 0.1 } },
    { name: 'CEL logEnd 0.5 ε=0.1', loss: { kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 } },
    { name: 'tf.losses.softmaxCrossEntropy ε=0.1', loss: 'tfjs' },
  ];
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < repeats + 2; r++) {
    variants.forEach((variant, i) => {
      const loss = variant.loss;
      const options = loss === 'tfjs' ? undefined : lossOptions(loss);
      const started = performance.now();
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.decode(decoderInput, model.encode(source, rng), rng);
        return options ? tokenLoss(logits, maskedLabels, options) : tfjsCrossEntropy(logits);
      });
      for (const g of Object.values(grads)) g.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      if (r >= 2) times[i].push(performance.now() - started); // two warm-up rounds
    });
  }
  const baselineMedian = median(times[0]);
  const results = variants.map((variant, i) => ({
    backend: `tfjs-${backend} training step`,
    shape: [b, t, config.vocab_size],
    dtype: 'float32',
    variant: variant.name,
    median: median(times[i]),
    min: Math.min(...times[i]),
    max: Math.max(...times[i]),
    baseline: 'CE ε=0.1 step',
    baselineMedian,
    ratio: median(times[i]) / baselineMedian,
    tokensPerSecond: ((b * (t - 2)) / median(times[i])) * 1000,
  }));
  mkdirSync(options.out, { recursive: true });
  writeFileSync(
    join(options.out, 'results.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.variant.padEnd(36)} ${r.median.toFixed(1)} ms/step  ${Math.round(r.tokensPerSecond)} tok/s  ×${r.ratio.toFixed(3)} vs CE\n`,
    );
  }
  tf.dispose([source, decoderInput, labels, maskedLabels, mask, oneHot]);
  model.dispose();
}
