import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/rng.js';
import { ADAM, HostAdam } from '../src/training/optimizer.js';

// Test support for optimizer*.test.ts: HostAdam against Adam in float64.

// Sizes around the kernel's paths: 17030 elements cross a 16384-element staging chunk and end on a partial
// SIMD vector; 7 and 1 are scalar tails only. `tiny` gets gradients near 1e-9, where ε = 1e-9 weighs on the
// update; `frozen` never gets a gradient.
const SHAPES: Record<string, number[]> = {
  big: [130, 131],
  seven: [7],
  one: [1],
  tiny: [33],
  frozen: [5, 3],
};
const TRAINED = ['big', 'seven', 'one', 'tiny'];

interface ReferenceState {
  theta: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** β₁-weighted sum of |scaled gradient|: the size of the terms m is a sum of (for its error bound). */
  mAbs: Float64Array;
}

/** Adam with bias correction and global-norm clipping, in float64 from the textbook formula. */
function referenceStep(
  states: Map<string, ReferenceState>,
  grads: Map<string, Float32Array>,
  { lr, t, clip, gradientScale = 1 }: { lr: number; t: number; clip: number; gradientScale?: number },
): number {
  const { beta1, beta2, epsilon } = ADAM;
  let squares = 0;
  for (const g of grads.values()) for (const x of g) squares += (gradientScale * x) ** 2;
  const norm = Math.sqrt(squares);
  const clipping = Math.min(1, clip / (norm + 1e-6));
  for (const [name, g] of grads) {
    const s = states.get(name)!;
    for (let i = 0; i < g.length; i++) {
      const gamma = clipping * (gradientScale * g[i]);
      s.m[i] = beta1 * s.m[i] + (1 - beta1) * gamma;
      s.v[i] = beta2 * s.v[i] + (1 - beta2) * gamma * gamma;
      s.mAbs[i] = beta1 * s.mAbs[i] + (1 - beta1) * Math.abs(gamma);
      const mHat = s.m[i] / (1 - beta1 ** t);
      const vHat = s.v[i] / (1 - beta2 ** t);
      s.theta[i] -= (lr * mHat) / (Math.sqrt(vHat) + epsilon);
    }
  }
  return norm;
}

export function uniform(rng: Rng, size: number, amplitude: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rng.next() - 1) * amplitude;
  return out;
}

export function makeParams(rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, tf.variable(tf.tensor(uniform(rng, size, 1), shape)));
  }
  return params;
}

/** Gradients for the trained parameters: uniform in ±1 (±1e-9 for `tiny`), signs varying from step to step. */
export function makeGrads(rng: Rng): Map<string, Float32Array> {
  const grads = new Map<string, Float32Array>();
  for (const name of TRAINED) {
    const size = SHAPES[name].reduce((a, b) => a * b, 1);
    grads.set(name, uniform(rng, size, name === 'tiny' ? 1e-9 : 1));
  }
  return grads;
}

function referenceOf(params: Map<string, tf.Variable>): Map<string, ReferenceState> {
  return new Map(
    [...params].map(([name, p]) => [
      name,
      {
        theta: Float64Array.from(p.dataSync()),
        m: new Float64Array(p.size),
        v: new Float64Array(p.size),
        mAbs: new Float64Array(p.size),
      },
    ]),
  );
}

/**
 * Float32 against float64 after `steps` steps. Per step the kernel rounds θ (≤ 2⁻²⁴|θ|) and computes the update
 * (|Δθ| ≤ lr for β = (0.9, 0.98)) with a relative error of a few 2⁻²⁴ plus the moments' accumulated rounding;
 * m's error is bounded by its terms' size (it cancels), v's by v itself (its terms are positive). The bounds
 * below hold those with margin and are orders of magnitude under any error of the formula (a missing bias
 * correction or clipping changes the update by tens of percent; ε by half of it for `tiny`).
 */
function expectClose(
  optimizer: HostAdam,
  params: Map<string, tf.Variable>,
  reference: Map<string, ReferenceState>,
  steps: number,
  lr: number,
) {
  for (const name of TRAINED) {
    const theta = params.get(name)!.dataSync();
    const { m, v } = optimizer.moments.get(name)!;
    const want = reference.get(name)!;
    for (let i = 0; i < theta.length; i++) {
      const thetaBound = steps * (2 ** -23 * Math.abs(want.theta[i]) + 2 ** -16 * lr);
      if (!(Math.abs(theta[i] - want.theta[i]) <= thetaBound)) {
        throw new Error(`${name}[${i}]: θ ${theta[i]} vs ${want.theta[i]} (bound ${thetaBound})`);
      }
      const mBound = steps * 2 ** -21 * want.mAbs[i];
      if (!(Math.abs(m[i] - want.m[i]) <= mBound)) {
        throw new Error(`${name}[${i}]: m ${m[i]} vs ${want.m[i]} (bound ${mBound})`);
      }
      const vBound = steps * 2 ** -21 * want.v[i] + 1e-45;
      if (!(Math.abs(v[i] - want.v[i]) <= vBound)) {
        throw new Error(`${name}[${i}]: v ${v[i]} vs ${want.v[i]} (bound ${vBound})`);
      }
    }
  }
}

/**
 * Runs `steps` steps from `t0` on HostAdam and on the float64 reference with fresh random parameters and gradients,
 * and throws where they differ beyond float32 rounding; returns the gradient norms seen.
 */
export function runAgainstReference(options: {
  seed: number;
  lr: number;
  clip: number;
  t0: number;
  steps: number;
  gradientScale?: number;
}) {
  const rng = new Rng(options.seed);
  const params = makeParams(rng);
  const frozenBefore = params.get('frozen')!.dataSync().slice();
  const optimizer = new HostAdam(params);
  const reference = referenceOf(params);
  const norms: number[] = [];
  for (let k = 0; k < options.steps; k++) {
    const grads = makeGrads(rng);
    const settings = {
      lr: options.lr,
      t: options.t0 + k,
      clip: options.clip,
      gradientScale: options.gradientScale,
    };
    const norm = optimizer.step(params, grads, settings);
    const want = referenceStep(reference, grads, settings);
    if (!(Math.abs(norm - want) <= 1e-12 * want)) throw new Error(`step ${k}: norm ${norm} vs ${want}`);
    norms.push(norm);
  }
  expectClose(optimizer, params, reference, options.steps, options.lr);
  // Frozen: the same values, bit for bit, and moments never touched.
  const frozen = optimizer.moments.get('frozen')!;
  const after = params.get('frozen')!.dataSync();
  if (
    after.some((x, i) => !Object.is(x, frozenBefore[i])) ||
    frozen.m.some((x) => x !== 0) ||
    frozen.v.some((x) => x !== 0)
  ) {
    throw new Error('the frozen parameter or its moments changed');
  }
  for (const p of params.values()) p.dispose();
  return norms;
}
