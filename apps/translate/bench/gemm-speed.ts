/**
 * The blocked 2-D product (src/model/kernels/gemm.ts) against tfjs-backend-wasm's matMul (XNNPACK) on the shapes of
 * a training step: XNNPACK with its right operand already packed (a cached weight) and with a fresh one (a weight
 * after an optimizer step: packed again), and from 256 columns on the blocked product with its operands read in
 * place (`experimental_setPackedProduct(false)`) against packed. Interleaved per round, median ms and GFLOP/s per
 * variant.
 * Run through `node bench/run-speed.mjs gemm [--threads N] [--transposed]`, under `flock /tmp/bench.lock`.
 */

import { blockedMatMul, experimental_setPackedProduct } from '@encouraging-loss/translate';
import { initNodeBackend } from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';

// m × k × n: attention projections, FFN, their gradients (small preset and OPUS-MT base), and the output
// projection of OPUS-MT base at 200 tokens: z = (W·hᵀ)ᵀ, dW = Gᵀ·h, dh = G·W.
const SHAPES = [
  [2000, 128, 128],
  [2000, 128, 256],
  [2000, 256, 128],
  [128, 2000, 128],
  [200, 512, 512],
  [200, 512, 2048],
  [200, 2048, 512],
  [512, 200, 512],
  [58101, 512, 200],
  [58101, 200, 512],
  [200, 58101, 512],
  // NLLB-200-distilled-600M (d 1024, FFN 4096) at 1,000 tokens: projections, FFN and their gradients.
  [1000, 1024, 1024],
  [1000, 1024, 4096],
  [1000, 4096, 1024],
  [1024, 1000, 1024],
  // Decoding's logits at OPUS-MT base, (W·hᵀ)ᵀ for 8 greedy rows and 40 beam rows.
  [58101, 512, 8],
  [58101, 512, 40],
];

// `--threads N` (default 1): with N > 1, XNNPACK on N threads against the blocked product on the kernel pool of N.
const threadsFlag = process.argv.indexOf('--threads');
const threads = threadsFlag > 0 ? Number(process.argv[threadsFlag + 1]) : 1;
// `--transposed`: the products a training step takes of a stored transpose (x·Wᵀ with W [n, k]; dW = dyᵀ·x with dy
// [k, m]), the packed kernel reading it in place against tf.transpose and then the product (what ran before).
const transposed = process.argv.includes('--transposed');
await initNodeBackend('wasm', { threads });
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const [m, k, n] of SHAPES) {
  if (transposed && n < 256) continue;
  const a = tf.randomNormal([m, k]) as tf.Tensor2D;
  const b = tf.randomNormal([k, n]) as tf.Tensor2D;
  const reps = Math.max(2, Math.round(2e9 / (2 * m * k * n)));
  const [at, bt] = transposed ? [tf.transpose(a), tf.transpose(b)] : [a, b];
  const variants: Record<string, () => void> = transposed
    ? {
        'Aᵀ: transpose, then product': () =>
          tf.tidy(() => void blockedMatMul(tf.transpose(at), b).dataSync()),
        'Aᵀ read in place': () => tf.tidy(() => void blockedMatMul(at, b, true, false).dataSync()),
        'Bᵀ: transpose, then product': () =>
          tf.tidy(() => void blockedMatMul(a, tf.transpose(bt)).dataSync()),
        'Bᵀ read in place': () => tf.tidy(() => void blockedMatMul(a, bt, false, true).dataSync()),
      }
    : {
        'XNNPACK, packed': () => tf.tidy(() => void tf.matMul(a, b).dataSync()),
        'XNNPACK, fresh operand': () =>
          tf.tidy(() => void tf.matMul(a, tf.add(b, 0) as tf.Tensor2D).dataSync()),
        blocked: () => tf.tidy(() => void blockedMatMul(a, b).dataSync()),
      };
  if (n >= 256 && !transposed) {
    variants['blocked, in place'] = () => {
      experimental_setPackedProduct(false);
      try {
        tf.tidy(() => void blockedMatMul(a, b).dataSync());
      } finally {
        experimental_setPackedProduct(true);
      }
    };
  }
  if (threads > 1) {
    // Without the pool the product goes to XNNPACK on tfjs's threads: the "XNNPACK" rows are that.
    for (const name of ['blocked', 'blocked, in place'].filter((x) => x in variants)) {
      variants[`${name}, ${threads} threads`] = variants[name];
      delete variants[name];
    }
  }
  const names = Object.keys(variants);
  const ms: Record<string, number[]> = Object.fromEntries(names.map((x) => [x, []]));
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const started = performance.now();
      for (let r = 0; r < reps; r++) variants[name]();
      if (round > 0) ms[name].push((performance.now() - started) / reps);
    }
  }
  const cells = names.map((name) => {
    const t = median(ms[name]);
    return `${name} ${t.toFixed(2)} ms (${((2 * m * k * n) / t / 1e6).toFixed(1)} GFLOP/s)`;
  });
  console.log(`${m}×${k}×${n}`.padEnd(16), cells.join('   '));
  tf.dispose([a, b, at, bt]);
}
