// pnpm bench (in packages/core): the fused typed-array kernel, fwd+bwd, as a ratio to one plain summing pass
// over the same logits buffer, both measured in this run (shared machines are noisy: ratios, not seconds).
// encouragingLossWithGrad runs the WebAssembly SIMD kernel (the JS kernel where WASM SIMD is missing);
// "JS kernel" rows call the pure-JS fallback directly. "output floor" is a second in-run baseline: allocating a
// gradient-sized array and writing it once (page faults of a fresh buffer), which any fwd+bwd returning a new
// gradient pays; beyond 32 MiB glibc maps fresh pages on every call. The ", out" rows reuse one gradient buffer
// (the `out` option) and do not pay it.
import { writeFileSync } from 'node:fs';
import { encouragingLossWithGrad, fusedEncouragingLoss, resolveOptions } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const repeats = quick ? 3 : 15;
// --only=512x32000 runs one shape (and does not write results.json).
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const shapes = (
  quick
    ? [[256, 1000]]
    : [
        [4096, 1000],
        [512, 32000],
      ]
).filter(([rows, K]) => !only || only === `${rows}x${K}`);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function once(fn) {
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const start = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  // Typed-array bytes the call allocated (gc ran just before, so nothing else is counted).
  return [ms, process.memoryUsage().arrayBuffers - before];
}

// Times fn, each sample right after a sample of the baseline: the ratio is the median of the per-pair ratios, so
// load from other processes on a shared machine shifts both sides alike.
function time(fn, baseline = undefined) {
  fn(); // warm-up (JIT)
  fn();
  const samples = [];
  const bases = [];
  const ratios = [];
  let allocated = 0;
  for (let i = 0; i < repeats; i++) {
    const [base] = baseline ? once(baseline) : [1];
    const [ms, bytes] = once(fn);
    samples.push(ms);
    bases.push(base);
    ratios.push(ms / base);
    allocated = Math.max(allocated, bytes);
  }
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    pairedRatio: median(ratios),
    // Fastest over fastest: the least disturbed estimate when other jobs load the machine.
    minRatio: Math.min(...samples) / Math.min(...bases),
    allocated,
  };
}

let sink = 0;
// One summing function per float type: a single function fed both types runs V8's polymorphic code after the
// first shape, which is up to 1.4× slower and would flatter the later ratios.
function sumPass32(data) {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  sink += s;
}
function sumPass64(data) {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  sink += s;
}
const sumPass = (data) => (data instanceof Float32Array ? sumPass32(data) : sumPass64(data));

function outputFloor(data) {
  const grad = new data.constructor(data.length);
  grad.set(data);
  sink += grad[grad.length - 1];
}

// [name, options, kernel]: 'auto' is the public API's choice, 'js' the pure-JS kernel called directly, 'out' the
// public API writing into one gradient buffer reused across calls (the `out` option of a training loop).
const variants = [
  ['CE (bonusWeight 0)', { bonusWeight: 0, checkFinite: false }, 'auto'],
  ['EL', { logEnd: 1, checkFinite: false }, 'auto'],
  ['CEL 0.75', { logEnd: 0.75, checkFinite: false }, 'auto'],
  ['CEL 0.5 + label smoothing 0.1', { logEnd: 0.5, labelSmoothing: 0.1, checkFinite: false }, 'auto'],
  ['CE (bonusWeight 0), out', { bonusWeight: 0, checkFinite: false }, 'out'],
  ['EL, out', { logEnd: 1, checkFinite: false }, 'out'],
  ['CEL 0.75, out', { logEnd: 0.75, checkFinite: false }, 'out'],
  ['CEL 0.5 + label smoothing 0.1, out', { logEnd: 0.5, labelSmoothing: 0.1, checkFinite: false }, 'out'],
  ['CEL 0.75, finite check on (default)', { logEnd: 0.75 }, 'auto'],
  ['CEL 0.75, JS kernel', { logEnd: 0.75, checkFinite: false }, 'js'],
  [
    'CEL 0.5 + label smoothing 0.1, JS kernel',
    { logEnd: 0.5, labelSmoothing: 0.1, checkFinite: false },
    'js',
  ],
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
    const floor = time(
      () => outputFloor(data),
      () => sumPass(data),
    );
    const dtype = Type === Float32Array ? 'float32' : 'float64';
    console.log(
      `\n[${rows}, ${K}] ${dtype}: summing pass median ${baseline.median.toFixed(2)} ms, output floor ${floor.median.toFixed(2)} ms (${floor.pairedRatio.toFixed(2)}×, min/min ${floor.minRatio.toFixed(2)}×)`,
    );
    const out = new Type(data.length);
    for (const [name, options, kernel] of variants) {
      const resolved = resolveOptions(options, K);
      const withOut = { ...options, out };
      const t = time(
        kernel === 'js'
          ? () => {
              sink += fusedEncouragingLoss(data, targets, K, resolved, true).loss[0];
            }
          : kernel === 'out'
            ? () => {
                sink += encouragingLossWithGrad(logits, target, withOut).loss.data[0];
              }
            : () => {
                sink += encouragingLossWithGrad(logits, target, options).loss.data[0];
              },
        () => sumPass(data),
      );
      const peak = t.allocated;
      const ratio = t.pairedRatio;
      const overFloor = ratio - floor.pairedRatio;
      console.log(
        `  ${name.padEnd(36)} ${t.median.toFixed(2).padStart(8)} ms  (min ${t.min.toFixed(2)}, max ${t.max.toFixed(2)})  ${ratio.toFixed(2)}× summing pass (min/min ${t.minRatio.toFixed(2)}×; output floor + ${overFloor.toFixed(2)}×)  extra memory ${(peak / 2 ** 20).toFixed(1)} MiB (grad ${(data.byteLength / 2 ** 20).toFixed(1)} MiB)`,
      );
      results.push({
        shape: [rows, K],
        dtype,
        variant: name,
        kernel: kernel === 'js' ? 'js' : 'wasm-simd',
        gradient: kernel === 'out' ? 'out' : 'fresh',
        ...t,
        baselineMedian: baseline.median,
        outputFloorMedian: floor.median,
        outputFloorRatio: floor.pairedRatio,
        outputFloorMinRatio: floor.minRatio,
        ratio,
        minRatio: t.minRatio,
        ratioBeyondOutputFloor: overFloor,
        extraBytes: peak,
      });
    }
  }
}
if (!quick && !only)
  writeFileSync(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
if (sink === 42) console.log('');
