/**
 * The optimizer step alone (issue 13): `HostAdam.step` on the parameter shapes of OPUS-MT base (74M) and of the
 * app's `small` preset (0.8M), random parameters and gradients, on tfjs-wasm. Three engines in the same run: the
 * baseline as before issue 13 — the trainer's host pass dividing every gradient by the token count, then the old
 * step (dataSync, a float64 host loop, upload) — the current step with its WebAssembly SIMD kernel and the
 * division folded in (`gradientScale`), and the current step with the app's kernels off (its host loop). Reports
 * the median over the timed steps, ns per parameter and the ratio to the baseline; writes bench/adam-results.json.
 * Run through `node bench/run-speed.mjs adam`, under `flock /tmp/bench.lock`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ADAM, experimental_setAppKernels, HostAdam, makeConfig, Rng } from '@encouraging-loss/translate';
import { initNodeBackend, MarianModel } from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';
import { OPUS_MT_BASE } from './fine-tune-bench.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    out: { type: 'string', default: 'bench/adam-results.json' },
  },
});
const steps = Number(values.steps);

/** HostAdam.step before issue 13, kept verbatim as the baseline. */
class BaselineAdam {
  readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();

  constructor(params: ReadonlyMap<string, tf.Variable>) {
    for (const [name, p] of params) {
      this.moments.set(name, { m: new Float32Array(p.size), v: new Float32Array(p.size) });
    }
  }

  step(
    params: ReadonlyMap<string, tf.Variable>,
    grads: ReadonlyMap<string, Float32Array>,
    options: { lr: number; t: number; clip: number },
  ): number {
    let squares = 0;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
    const norm = Math.sqrt(squares);
    const scale = Math.min(1, options.clip / (norm + 1e-6));
    const { beta1, beta2, epsilon } = ADAM;
    const correction1 = 1 - beta1 ** options.t;
    const correction2 = 1 - beta2 ** options.t;
    for (const [name, g] of grads) {
      const param = params.get(name)!;
      const { m, v } = this.moments.get(name)!;
      const read = param.dataSync() as Float32Array;
      const values = tf.getBackend() === 'wasm' ? read : read.slice();
      for (let i = 0; i < g.length; i++) {
        const gi = g[i] * scale;
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        values[i] -= (options.lr * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + epsilon);
      }
      const updated = tf.tensor(values, param.shape);
      param.assign(updated);
      updated.dispose();
    }
    return norm;
  }
}

type Step = (grads: Map<string, Float32Array>, t: number) => void;

interface Engine {
  name: string;
  make(params: ReadonlyMap<string, tf.Variable>): Step;
  kernels: boolean;
}

/** accumulateGradients' division by the token count before issue 13 (×0.5 and ×2 in turn: exact, same cost). */
function scalePass(grads: Map<string, Float32Array>, t: number): void {
  const scale = t % 2 ? 0.5 : 2;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= scale;
}

const settings = (t: number) => ({ lr: 5e-5, t, clip: 1 });
const engines: Engine[] = [
  {
    name: 'baseline (before issue 13)',
    make: (params) => {
      const optimizer = new BaselineAdam(params);
      return (grads, t) => {
        scalePass(grads, t);
        optimizer.step(params, grads, settings(t));
      };
    },
    kernels: true,
  },
  {
    name: 'HostAdam, wasm SIMD kernel',
    make: (params) => {
      const optimizer = new HostAdam(params);
      return (grads, t) => optimizer.step(params, grads, { ...settings(t), gradientScale: 0.5 });
    },
    kernels: true,
  },
  {
    name: 'HostAdam, host loop (kernels off)',
    make: (params) => {
      const optimizer = new HostAdam(params);
      return (grads, t) => optimizer.step(params, grads, { ...settings(t), gradientScale: 0.5 });
    },
    kernels: false,
  },
];

const say = (line: string) => process.stderr.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await initNodeBackend('wasm');
const results: Record<string, unknown>[] = [];
for (const [shape, config] of [
  ['small', makeConfig(1000, 'small')],
  ['opus-mt-base', OPUS_MT_BASE],
] as const) {
  const model = new MarianModel(config, new Rng(1));
  const parameters = [...model.params.values()].reduce((a, p) => a + p.size, 0);
  const rng = new Rng(2);
  // Gradients of a realistic spread (a global norm near 1, so clipping at 1 is sometimes active).
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.params) {
    const g = new Float32Array(p.size);
    for (let i = 0; i < g.length; i++) g[i] = (rng.next() - 0.5) * (2 / Math.sqrt(parameters));
    grads.set(name, g);
  }
  const timed = shape === 'small' ? steps * 4 : steps;
  const row: Record<string, unknown> = { shape, parameters, steps: timed, engines: {} };
  let baseline = 0;
  say(`${shape}: ${(parameters / 1e6).toFixed(2)}M parameters, ${model.params.size} tensors`);
  for (const engine of engines) {
    experimental_setAppKernels(engine.kernels);
    const step = engine.make(model.params);
    const ms: number[] = [];
    // One untimed warm-up step, then the timed ones.
    for (let t = 1; t <= timed + 1; t++) {
      const started = performance.now();
      step(grads, t);
      if (t > 1) ms.push(performance.now() - started);
    }
    const mid = median(ms);
    if (!baseline) baseline = mid;
    (row.engines as Record<string, unknown>)[engine.name] = {
      medianMs: mid,
      nsPerParameter: (mid * 1e6) / parameters,
      speedup: baseline / mid,
      ms,
    };
    say(
      `  ${engine.name.padEnd(36)} ${mid.toFixed(1).padStart(8)} ms  ${((mid * 1e6) / parameters).toFixed(2).padStart(6)} ns/param  ×${(baseline / mid).toFixed(2)}`,
    );
  }
  const scaleMs: number[] = [];
  for (let t = 1; t <= timed; t++) {
    const started = performance.now();
    scalePass(grads, t);
    scaleMs.push(performance.now() - started);
  }
  row.baselineScalePassMs = median(scaleMs);
  say(`  (of the baseline: the trainer's scale pass ${median(scaleMs).toFixed(1)} ms)`);
  experimental_setAppKernels(true);
  model.dispose();
  results.push(row);
}
writeFileSync(values.out!, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
say(`wrote ${values.out}`);
