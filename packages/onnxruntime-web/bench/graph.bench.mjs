// pnpm bench: the EL/CEL loss graph fwd+bwd against a cross-entropy fwd+bwd graph recorded by the same builder,
// both run by onnxruntime-web on the wasm EP (one thread) on the same inputs. Prints medians (min–max), the ratio
// (and min/min), each graph's node count and its passes over [N, K], and writes bench/results.json for the root
// report. Shared machine: read ratios.
// `node bench/graph.bench.mjs --smoke` is a seconds-long run on a small shape.
import { writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import {
  buildEncouragingLossModel,
  experimental_decodeOnnxModel,
  experimental_modelSummary,
  GraphBuilder,
} from '../dist/index.js';
import { benchInputs, crossEntropyModel, labelSmoothedCrossEntropyModel } from './baseline.mjs';

ort.env.wasm.numThreads = 1;
const smoke = process.argv.includes('--smoke');
const runs = smoke ? 3 : Number(process.env.BENCH_RUNS ?? 11);
const shapes = smoke
  ? [[64, 100]]
  : [
      [4096, 1000],
      [512, 32000],
    ];

/**
 * Passes over [N, K]: nodes that read a tensor of the logits' size (elementwise ops, reductions, casts, scatters),
 * following sizes from `logits` through the graph. Shape, row gathers and the free views (Reshape, Identity) are not
 * passes; a Cast to float64 and the ReduceSum that reads it count as two.
 */
function fullPasses(bytes) {
  const full = new Set(['logits']);
  const notPasses = new Set(['Shape', 'GatherElements', 'Reshape', 'Identity']);
  // AveragePool (the builder's blocked sums) reads [N, K] and writes [N, 1, K/16]: a reduction.
  const reductions = new Set(['ReduceSum', 'ReduceMax', 'ReduceProd', 'ArgMax', 'TopK', 'AveragePool']);
  const fullShapes = new Set();
  let passes = 0;
  for (const node of experimental_decodeOnnxModel(bytes).graph.nodes) {
    if (node.opType === 'Shape' && full.has(node.inputs[0])) fullShapes.add(node.outputs[0]);
    // An Expand to the logits' shape writes N·K values (CE's zeros for the one-hot).
    const expandsToFull = node.opType === 'Expand' && fullShapes.has(node.inputs[1]);
    if (!node.inputs.some((name) => full.has(name)) && !expandsToFull) continue;
    if (!notPasses.has(node.opType)) passes++;
    if (!reductions.has(node.opType) && node.opType !== 'Shape' && node.opType !== 'GatherElements') {
      for (const name of node.outputs) full.add(name);
    }
  }
  return passes;
}

const models = [
  { variant: 'CE (baseline)', bytes: crossEntropyModel(GraphBuilder) },
  // The smoothed graphs' own baseline: CE with the same label smoothing (issue 23: label smoothing costs CE too).
  {
    variant: 'LS-CE 0.1 (baseline)',
    bytes: labelSmoothedCrossEntropyModel(GraphBuilder, 0.1),
    smoothed: true,
  },
  { variant: 'EL (logEnd 1)', bytes: buildEncouragingLossModel({ logEnd: 1 }) },
  { variant: 'CEL (logEnd 0.75)', bytes: buildEncouragingLossModel({ logEnd: 0.75 }) },
  {
    variant: 'CEL 0.75, labelSmoothing 0.1',
    bytes: buildEncouragingLossModel({ logEnd: 0.75, labelSmoothing: 0.1 }),
    smoothed: true,
  },
  {
    variant: 'EL (logEnd 1), labelSmoothing 0.1',
    bytes: buildEncouragingLossModel({ logEnd: 1, labelSmoothing: 0.1 }),
    smoothed: true,
  },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const results = [];
for (const [N, K] of shapes) {
  const { logits, targets } = benchInputs(N, K);
  // Round-robin over the graphs so the shared machine's noise falls on all of them alike.
  const timed = [];
  for (const { variant, bytes, smoothed } of models) {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    timed.push({
      variant,
      smoothed,
      session,
      times: [],
      nodes: experimental_modelSummary(bytes).nodeCount,
      passes: fullPasses(bytes),
    });
  }
  for (let i = 0; i < runs + 2; i++) {
    for (const entry of timed) {
      const start = performance.now();
      await entry.session.run({ logits, targets });
      if (i >= 2) entry.times.push(performance.now() - start);
    }
  }
  for (const entry of timed) await entry.session.release();
  const baseline = median(timed[0].times);
  const smoothedBaseline = timed[1];
  for (const { variant, smoothed, times, nodes, passes } of timed) {
    const row = {
      backend: 'onnxruntime-web wasm (1 thread)',
      shape: [N, K],
      dtype: 'float32',
      variant,
      median: median(times),
      min: Math.min(...times),
      max: Math.max(...times),
      baseline: 'ORT CE graph',
      baselineMedian: baseline,
      ratio: median(times) / baseline,
      // The fastest run over the baseline's fastest: the least disturbed estimate on a loaded machine.
      ratioMin: Math.min(...times) / Math.min(...timed[0].times),
      // Smoothed graphs against CE with the same label smoothing, same run.
      ...(smoothed
        ? {
            ratioSmoothed: median(times) / median(smoothedBaseline.times),
            ratioSmoothedMin: Math.min(...times) / Math.min(...smoothedBaseline.times),
          }
        : {}),
      nodes,
      passes,
    };
    results.push(row);
    console.log(
      `[${N}, ${K}] ${variant.padEnd(34)} ${row.median.toFixed(1).padStart(8)} ms (${row.min.toFixed(1)}–${row.max.toFixed(1)})  ${row.ratio.toFixed(2)}× CE (min/min ${row.ratioMin.toFixed(2)}×)${smoothed ? `  ${row.ratioSmoothed.toFixed(2)}× LS-CE (min/min ${row.ratioSmoothedMin.toFixed(2)}×)` : ''}  ${nodes} nodes, ${passes} passes over [N, K]`,
    );
  }
}
if (!smoke) {
  writeFileSync(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs, results }, null, 2)}\n`,
  );
}
