#!/usr/bin/env node
// The arithmetic of one training step at the bench's shapes (bench/train-bench.ts), and what it takes to match a
// step time: `node bench/step-flops.mjs [--ms-small T] [--ms-base T] [--peak GFLOPS]`.
//
// Counts the multiply-adds of the matrix products only (everything else is a few per element and memory-bound):
// per source token and encoder layer 4d² (q, k, v, out) + 2·d·F (the FFN) + 2·S·d (scores and context); per target
// token and decoder layer 4d² (self-attention) + 2d² (cross q, out) + 2·d·F + 2·T·d + 2·S·d, plus 2d² per source
// token (cross k, v); per target token d·V (the output projection). The backward is twice the forward (dX and dW),
// except no dX for the embedding lookup. Our trainer recomputes each layer's forward in the backward when the tape
// would not fit (activation checkpointing); PyTorch keeps the tape. A FLOP is a multiply or an add (2 per MAC).
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'ms-small': { type: 'string' },
    'ms-base': { type: 'string' },
    // Two cores' 128-bit SIMD peak here: 2 × (2 multiplies + 2 adds of 4 lanes a cycle) × 2.45 GHz.
    peak: { type: 'string', default: String(2 * 16 * 2.45) },
  },
});

const SHAPES = {
  small: { d: 128, ffn: 256, encoder: 2, decoder: 2, vocab: 1000, batch: 80, source: 25, target: 25 },
  base: { d: 512, ffn: 2048, encoder: 6, decoder: 6, vocab: 58101, batch: 8, source: 25, target: 25 },
};

function step({ d, ffn, encoder, decoder, vocab, batch, source, target }) {
  const S = batch * source;
  const T = batch * target;
  const encoderLayer = S * (4 * d * d + 2 * d * ffn + 2 * source * d);
  const decoderLayer = T * (6 * d * d + 2 * d * ffn + 2 * target * d + 2 * source * d) + S * 2 * d * d;
  const layers = encoder * encoderLayer + decoder * decoderLayer;
  const projection = T * d * vocab;
  const forward = 2 * (layers + projection);
  const training = 3 * forward;
  return { tokens: T, forward, training, recomputed: training + 2 * layers };
}

const peak = Number(values.peak);
for (const [name, shape] of Object.entries(SHAPES)) {
  const s = step(shape);
  const g = (x) => (x / 1e9).toFixed(1);
  console.log(
    `${name}: ${s.tokens} target tokens; forward ${g(s.forward)} GFLOP, training step ${g(s.training)} GFLOP ` +
      `(${g(s.recomputed)} with every layer recomputed)`,
  );
  const ms = Number(values[`ms-${name}`]);
  if (ms > 0) {
    const need = s.training / (ms / 1000) / 1e9;
    const needRecomputed = s.recomputed / (ms / 1000) / 1e9;
    console.log(
      `  to finish in ${ms} ms: ${need.toFixed(1)} GFLOP/s in products alone (${((100 * need) / peak).toFixed(0)} % ` +
        `of a ${peak.toFixed(1)} GFLOP/s peak; ${needRecomputed.toFixed(1)}, ${((100 * needRecomputed) / peak).toFixed(0)} %, ` +
        'recomputing), with nothing else taking any time',
    );
  }
}
