import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { makeConfig } from './config.js';
import { type LossSettings, lossOptions, tokenLoss } from './loss.js';
import { MarianModel } from './model.js';
import { Rng } from './rng.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * `el-translate bench`: the time of one training step (forward, loss, backward) of the demo's `small` model with
 * EL and CEL against CE (label smoothing 0.1 everywhere), interleaved so load changes hit both alike. Writes
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
  const labels = random(b * t);
  const variants: { name: string; loss: LossSettings }[] = [
    { name: 'CE ε=0.1', loss: { kind: 'ce', labelSmoothing: 0.1 } },
    { name: 'EL ε=0.1', loss: { kind: 'el', labelSmoothing: 0.1 } },
    { name: 'CEL logEnd 0.5 ε=0.1', loss: { kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 } },
  ];
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < repeats + 2; r++) {
    variants.forEach((variant, i) => {
      const options = lossOptions(variant.loss);
      const started = performance.now();
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.decode(decoderInput, model.encode(source, rng), rng);
        return tokenLoss(tf.reshape(logits, [-1, config.vocab_size]) as tf.Tensor2D, labels, options);
      });
      for (const g of Object.values(grads)) g.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      if (r >= 2) times[i].push(performance.now() - started); // two warm-up rounds
    });
  }
  const baselineMedian = median(times[0]);
  const results = variants.map((variant, i) => ({
    backend: `tfjs-${backend} training step`,
    shape: [b * t, config.vocab_size],
    dtype: 'float32',
    variant: variant.name,
    median: median(times[i]),
    min: Math.min(...times[i]),
    max: Math.max(...times[i]),
    baseline: 'CE ε=0.1 step',
    baselineMedian,
    ratio: median(times[i]) / baselineMedian,
    tokensPerSecond: ((b * t) / median(times[i])) * 1000,
  }));
  mkdirSync(options.out, { recursive: true });
  writeFileSync(
    join(options.out, 'results.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.variant.padEnd(24)} ${r.median.toFixed(1)} ms/step  ${Math.round(r.tokensPerSecond)} tok/s  ×${r.ratio.toFixed(3)} vs CE\n`,
    );
  }
  model.dispose();
}
