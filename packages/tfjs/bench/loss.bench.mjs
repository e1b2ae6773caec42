// pnpm bench (in packages/tfjs): EL / CEL fwd+bwd (tf.valueAndGrad) as a ratio to tf.losses.softmaxCrossEntropy
// fwd+bwd on the same backend, shapes and run (shared machines are noisy: ratios, not milliseconds). Samples of the
// baseline and each variant are interleaved, so a busy neighbour slows both alike.
import { writeFileSync } from 'node:fs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-layers' Node bundle registers tfjs's op gradients (tf.losses.softmaxCrossEntropy's mean needs them).
import '@tensorflow/tfjs-layers';
import { createEncouragingLoss } from '@encouraging-loss/core';
import * as tf from '@tensorflow/tfjs-core';
import { encouragingLoss, tfjsOps } from '../dist/index.js';

tf.env().set('PROD', true);
const quick = process.argv.includes('--quick');
const plan = quick
  ? [
      ['wasm', [[256, 1000]], 3],
      ['cpu', [[64, 1000]], 3],
    ]
  : [
      [
        'wasm',
        [
          [4096, 1000],
          [512, 32000],
        ],
        9,
      ],
      [
        'cpu',
        [
          [512, 1000],
          [64, 32000],
        ],
        7,
      ],
    ];

// The composed path (the core's math as tfjs ops) behind the same customGrad, for the before/after comparison.
const composed = createEncouragingLoss(tfjsOps);
const composedLoss = (logits, labels, options) =>
  tf.customGrad((x, save) => {
    const { loss, grad } = composed.encouragingLossWithGrad(x, labels, options);
    save([grad]);
    return { value: loss, gradFunc: (dy, [g]) => tf.mul(g, dy) };
  })(logits);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function timeOnce(fn) {
  const start = performance.now();
  tf.tidy(() => {
    const { value, grad } = fn();
    value.dataSync();
    // cpu and wasm run kernels synchronously: the gradient exists once valueAndGrad returns.
    return grad.shape;
  });
  return performance.now() - start;
}

const results = [];
for (const [backend, shapes, repeats] of plan) {
  await tf.setBackend(backend);
  for (const [rows, K] of shapes) {
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const logits = tf.tensor2d(
      Float32Array.from({ length: rows * K }, () => 4 * (random() - 0.5)),
      [rows, K],
    );
    const labels = tf.tensor1d(
      Int32Array.from({ length: rows }, () => Math.floor(random() * K)),
      'int32',
    );
    const oneHot = tf.tidy(() => tf.cast(tf.oneHot(labels, K), 'float32')); // no cast inside the timed CE
    const baseline = () => tf.valueAndGrad((z) => tf.losses.softmaxCrossEntropy(oneHot, z))(logits);
    const variants = [
      ['EL (fused kernel)', () => tf.valueAndGrad((z) => encouragingLoss(z, labels, { logEnd: 1 }))(logits)],
      [
        'CEL 0.75 (fused kernel)',
        () => tf.valueAndGrad((z) => encouragingLoss(z, labels, { logEnd: 0.75 }))(logits),
      ],
      [
        'CEL 0.5 + label smoothing 0.1 (fused kernel)',
        () =>
          tf.valueAndGrad((z) => encouragingLoss(z, labels, { logEnd: 0.5, labelSmoothing: 0.1 }))(logits),
      ],
      [
        'CEL 0.75 (composed tfjs ops)',
        () => tf.valueAndGrad((z) => composedLoss(z, labels, { logEnd: 0.75 }))(logits),
      ],
    ];
    for (const [variant, fn] of variants) {
      for (let i = 0; i < 2; i++) {
        timeOnce(baseline); // warm-up
        timeOnce(fn);
      }
      const bases = [];
      const samples = [];
      for (let i = 0; i < repeats; i++) {
        bases.push(timeOnce(baseline));
        samples.push(timeOnce(fn));
      }
      const row = {
        backend: `tfjs-${backend}`,
        shape: [rows, K],
        dtype: 'float32',
        variant,
        median: median(samples),
        min: Math.min(...samples),
        max: Math.max(...samples),
        baseline: 'tf.losses.softmaxCrossEntropy',
        baselineMedian: median(bases),
      };
      row.ratio = row.median / row.baselineMedian;
      results.push(row);
      console.log(
        `${row.backend.padEnd(10)} [${rows}, ${K}]`.padEnd(28) +
          `${variant.padEnd(46)} ${row.median.toFixed(1).padStart(8)} ms  CE ${row.baselineMedian.toFixed(1).padStart(8)} ms  ${row.ratio.toFixed(2)}×`,
      );
    }
    tf.dispose([logits, labels, oneHot]);
  }
}
if (!quick) {
  writeFileSync(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
}
