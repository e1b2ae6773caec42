// pnpm bench (in packages/core): the fused typed-array kernel, fwd+bwd, as a ratio to one plain summing pass
// over the same logits buffer, both measured in this run (shared machines are noisy: ratios, not seconds).
import { writeFileSync } from 'node:fs';
import { encouragingLossWithGrad } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const repeats = quick ? 3 : 15;
const shapes = quick
  ? [[256, 1000]]
  : [
      [4096, 1000],
      [512, 32000],
    ];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(fn) {
  fn(); // warm-up (JIT)
  fn();
  const samples = [];
  let allocated = 0;
  for (let i = 0; i < repeats; i++) {
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    // Typed-array bytes the call allocated (gc ran just before, so nothing else is counted).
    allocated = Math.max(allocated, process.memoryUsage().arrayBuffers - before);
  }
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), allocated };
}

let sink = 0;
function sumPass(data) {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  sink += s;
}

const variants = [
  ['CE (bonusWeight 0)', { bonusWeight: 0, checkFinite: false }],
  ['EL', { logEnd: 1, checkFinite: false }],
  ['CEL 0.75', { logEnd: 0.75, checkFinite: false }],
  ['CEL 0.5 + label smoothing 0.1', { logEnd: 0.5, labelSmoothing: 0.1, checkFinite: false }],
  ['CEL 0.75, finite check on (default)', { logEnd: 0.75 }],
];

const results = [];
for (const [rows, K] of shapes) {
  for (const Type of [Float32Array, Float64Array]) {
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const data = Type.from({ length: rows * K }, () => 4 * (random() - 0.5));
    const targets = Int32Array.from({ length: rows }, () => Math.floor(random() * K));
    const logits = { data, shape: [rows, K] };
    const target = { data: targets, shape: [rows] };
    const baseline = time(() => sumPass(data));
    const dtype = Type === Float32Array ? 'float32' : 'float64';
    console.log(`\n[${rows}, ${K}] ${dtype}: summing pass median ${baseline.median.toFixed(2)} ms`);
    for (const [name, options] of variants) {
      const t = time(() => {
        sink += encouragingLossWithGrad(logits, target, options).loss.data[0];
      });
      const peak = t.allocated;
      const ratio = t.median / baseline.median;
      console.log(
        `  ${name.padEnd(36)} ${t.median.toFixed(2).padStart(8)} ms  (min ${t.min.toFixed(2)}, max ${t.max.toFixed(2)})  ${ratio.toFixed(2)}× summing pass  extra memory ${(peak / 2 ** 20).toFixed(1)} MiB (grad ${(data.byteLength / 2 ** 20).toFixed(1)} MiB)`,
      );
      results.push({
        shape: [rows, K],
        dtype,
        variant: name,
        ...t,
        baselineMedian: baseline.median,
        ratio,
        extraBytes: peak,
      });
    }
  }
}
if (!quick)
  writeFileSync(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
if (sink === 42) console.log('');
