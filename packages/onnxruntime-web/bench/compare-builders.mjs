// Before/after of a change to the graphs: the loss graphs built by this checkout's dist and by another build of the
// package (`--before <dir with index.js>`, e.g. another checkout's packages/onnxruntime-web/dist), timed in one
// round-robin with the CE graph, same inputs, wasm EP, one thread. Prints each graph's median and ratio to CE.
//   node bench/compare-builders.mjs --before ../../other/packages/onnxruntime-web/dist [--runs 11]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import * as after from '../dist/index.js';
import { benchInputs, crossEntropyModel } from './baseline.mjs';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const beforeDir = flag('--before');
if (!beforeDir) {
  console.error('usage: node bench/compare-builders.mjs --before <dist dir of another build> [--runs 11]');
  process.exit(2);
}
const before = await import(pathToFileURL(resolve(beforeDir, 'index.js')).href);
const runs = Number(flag('--runs', '11'));
ort.env.wasm.numThreads = 1;

const variants = [
  ['EL', { logEnd: 1 }],
  ['CEL 0.75', { logEnd: 0.75 }],
  ['CEL 0.75 + LS 0.1', { logEnd: 0.75, labelSmoothing: 0.1 }],
  ['EL + LS 0.1', { logEnd: 1, labelSmoothing: 0.1 }],
];
const models = [['CE', crossEntropyModel(after.GraphBuilder)]];
for (const [name, options] of variants) {
  models.push([`${name} before`, before.buildEncouragingLossModel(options)]);
  models.push([`${name} after`, after.buildEncouragingLossModel(options)]);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [N, K] of [
  [4096, 1000],
  [512, 32000],
]) {
  const { logits, targets } = benchInputs(N, K);
  const timed = [];
  for (const [name, bytes] of models) {
    timed.push({
      name,
      session: await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }),
      times: [],
    });
  }
  for (let run = 0; run < runs + 2; run++) {
    for (const entry of timed) {
      const start = performance.now();
      await entry.session.run({ logits, targets });
      if (run >= 2) entry.times.push(performance.now() - start);
    }
  }
  const base = median(timed[0].times);
  for (const { name, session, times } of timed) {
    console.log(
      `[${N}, ${K}] ${name.padEnd(24)} ${median(times).toFixed(1).padStart(7)} ms  ${(median(times) / base).toFixed(2)}× CE`,
    );
    await session.release();
  }
}
