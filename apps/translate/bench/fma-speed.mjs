#!/usr/bin/env node
// Would fused multiply-add speed up the app's product? `gemm.wat` (4 × 8 tiles of f32x4.mul + f32x4.add) against the
// same module with each multiply-add as relaxed SIMD's `f32x4.relaxed_madd` (one vfmadd where the CPU has FMA),
// on one thread over a plain WebAssembly.Memory, interleaved per round; median GFLOP/s per variant and their ratio.
// Relaxed SIMD is off by default in Node 20 (V8 11.3); this script turns it on for itself. From apps/translate:
//   flock /tmp/bench.lock node bench/fma-speed.mjs
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import wabtInit from 'wabt';

setFlagsFromString('--experimental-wasm-relaxed-simd');
const source = readFileSync(
  new URL('../../../packages/translate/src/model/kernels/gemm.wat', import.meta.url),
  'utf8',
);
// (f32x4.add (local.get $c) (f32x4.mul (local.get $s) B)) → (f32x4.relaxed_madd (local.get $s) B (local.get $c))
const multiplyAdd =
  /\(f32x4\.add\s+\(local\.get (\$\w+)\)\s+\(f32x4\.mul\s+\(local\.get (\$\w+)\)\s+(\((?:[^()]|\([^()]*\))*\))\)\)/g;
const count = source.match(multiplyAdd)?.length ?? 0;
if (count !== 10) throw new Error(`gemm.wat changed: expected 10 multiply-adds, found ${count}`);
const fused = source.replace(
  multiplyAdd,
  (_, c, s, b) => `(f32x4.relaxed_madd (local.get ${s}) ${b} (local.get ${c}))`,
);

const wabt = await wabtInit();
const memory = new WebAssembly.Memory({ initial: 16384 });
const instantiate = (text) => {
  const module = wabt.parseWat('gemm.wat', text, { simd: true, relaxed_simd: true, bulk_memory: true });
  return new WebAssembly.Instance(new WebAssembly.Module(module.toBinary({}).buffer), { env: { memory } })
    .exports.gemm;
};
const variants = { 'mul + add': instantiate(source), relaxed_madd: instantiate(fused) };

// The shapes of bench/gemm-speed.ts (a training step's products at the small preset and OPUS-MT base).
const SHAPES = [
  [2000, 128, 128],
  [2000, 256, 128],
  [200, 512, 2048],
  [200, 2048, 512],
  [512, 200, 512],
  [58101, 200, 512],
  [200, 58101, 512],
];
const floats = new Float32Array(memory.buffer);
const median = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log(`Node ${process.version}, V8 ${process.versions.v8}; GFLOP/s, median of 7 interleaved rounds`);
for (const [m, k, n] of SHAPES) {
  const [a, b, c] = [0, 4 * m * k, 4 * (m * k + k * n)];
  for (let i = 0; i < m * k + k * n; i++) floats[i] = Math.sin(i);
  const reps = Math.max(1, Math.round(1e9 / (2 * m * k * n)));
  const ms = { 'mul + add': [], relaxed_madd: [] };
  for (let round = 0; round < 8; round++) {
    const names = round % 2 ? Object.keys(ms).reverse() : Object.keys(ms);
    for (const name of names) {
      const started = performance.now();
      for (let r = 0; r < reps; r++) variants[name](a, b, c, m, k, n, 128);
      if (round > 0) ms[name].push((performance.now() - started) / reps);
    }
  }
  const gflops = (name) => (2 * m * k * n) / median(ms[name]) / 1e6;
  console.log(
    `${m}×${k}×${n}`.padEnd(16),
    `mul + add ${gflops('mul + add').toFixed(1)}   relaxed_madd ${gflops('relaxed_madd').toFixed(1)}   ` +
      `ratio ${(gflops('relaxed_madd') / gflops('mul + add')).toFixed(2)}×`,
  );
}
