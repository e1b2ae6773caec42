import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openAdamKernel } from '../model/kernels/adam.js';
import { experimental_setAppKernels } from '../model/kernels/switch.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { ADAM, HostAdam } from './optimizer.js';

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
  { lr, t, clip }: { lr: number; t: number; clip: number },
): number {
  const { beta1, beta2, epsilon } = ADAM;
  let squares = 0;
  for (const g of grads.values()) for (const x of g) squares += x * x;
  const norm = Math.sqrt(squares);
  const scale = Math.min(1, clip / (norm + 1e-6));
  for (const [name, g] of grads) {
    const s = states.get(name)!;
    for (let i = 0; i < g.length; i++) {
      const gamma = scale * g[i];
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

function uniform(rng: Rng, size: number, amplitude: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rng.next() - 1) * amplitude;
  return out;
}

function makeParams(rng: Rng): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of Object.entries(SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, tf.variable(tf.tensor(uniform(rng, size, 1), shape)));
  }
  return params;
}

/** Gradients for the trained parameters: uniform in ±1 (±1e-9 for `tiny`), signs varying from step to step. */
function makeGrads(rng: Rng): Map<string, Float32Array> {
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

/** Runs `steps` steps from `t0` on both and compares; returns the norms and scales seen. */
function runAgainstReference(options: { seed: number; lr: number; clip: number; t0: number; steps: number }) {
  const rng = new Rng(options.seed);
  const params = makeParams(rng);
  const frozenBefore = params.get('frozen')!.dataSync().slice();
  const optimizer = new HostAdam(params);
  const reference = referenceOf(params);
  const norms: number[] = [];
  for (let k = 0; k < options.steps; k++) {
    const grads = makeGrads(rng);
    const settings = { lr: options.lr, t: options.t0 + k, clip: options.clip };
    const norm = optimizer.step(params, grads, settings);
    const want = referenceStep(reference, grads, settings);
    expect(Math.abs(norm - want)).toBeLessThanOrEqual(1e-12 * want);
    norms.push(norm);
  }
  expectClose(optimizer, params, reference, options.steps, options.lr);
  // Frozen: the same values, bit for bit, and moments never touched.
  expect(params.get('frozen')!.dataSync()).toEqual(frozenBefore);
  expect(optimizer.moments.get('frozen')!.m.every((x) => x === 0)).toBe(true);
  expect(optimizer.moments.get('frozen')!.v.every((x) => x === 0)).toBe(true);
  for (const p of params.values()) p.dispose();
  return norms;
}

const ENGINES = [
  { name: 'wasm, SIMD kernel', backend: 'wasm', kernels: true },
  { name: 'wasm, host loop (app kernels off)', backend: 'wasm', kernels: false },
  { name: 'cpu', backend: 'cpu', kernels: true },
] as const;

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

afterAll(() => experimental_setAppKernels(true));

describe.each(ENGINES)('HostAdam ($name)', ({ backend, kernels }) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    experimental_setAppKernels(kernels);
  });

  test('takes the expected path', () => {
    const kernel = openAdamKernel();
    expect(kernel !== undefined).toBe(backend === 'wasm' && kernels);
    kernel?.close();
  });

  test('matches float64 Adam over five steps with clipping active', () => {
    // Gradients of ~17k elements uniform in ±1: a norm near 75, clipped to 1.
    const norms = runAgainstReference({ seed: 1, lr: 1e-2, clip: 1, t0: 1, steps: 5 });
    expect(Math.min(...norms)).toBeGreaterThan(1);
  });

  test('matches float64 Adam over five steps with clipping inactive', () => {
    const norms = runAgainstReference({ seed: 2, lr: 1e-3, clip: 1000, t0: 1, steps: 5 });
    expect(Math.max(...norms)).toBeLessThan(1000);
  });

  test('matches float64 Adam for any step number, learning rate and clip (bias correction depends on t)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(1e-4, 3e-3, 5e-2),
        fc.constantFrom(0.5, 80, 1e6),
        (seed, t0, lr, clip) => {
          runAgainstReference({ seed, lr, clip, t0, steps: 3 });
        },
      ),
      { numRuns: 12 },
    );
  });

  test('resuming from copied moments at step t continues the same run, bit for bit', () => {
    const rng = new Rng(9);
    const first = makeParams(rng);
    const second = new Map([...first].map(([name, p]) => [name, tf.variable(p.clone())]));
    const gradients = Array.from({ length: 5 }, () => makeGrads(rng));
    const whole = new HostAdam(first);
    const settings = (k: number) => ({ lr: 1e-2, t: k + 1, clip: 1 });
    for (const [k, grads] of gradients.entries()) whole.step(first, grads, settings(k));
    const before = new HostAdam(second);
    for (let k = 0; k < 3; k++) before.step(second, gradients[k], settings(k));
    const after = new HostAdam(second);
    for (const [name, { m, v }] of before.moments) {
      after.moments.get(name)!.m.set(m);
      after.moments.get(name)!.v.set(v);
    }
    for (let k = 3; k < 5; k++) after.step(second, gradients[k], settings(k));
    for (const [name, p] of first) {
      expect(second.get(name)!.dataSync(), name).toEqual(p.dataSync());
      expect(after.moments.get(name)!.m, name).toEqual(whole.moments.get(name)!.m);
      expect(after.moments.get(name)!.v, name).toEqual(whole.moments.get(name)!.v);
    }
    for (const p of [...first.values(), ...second.values()]) p.dispose();
  });

  test('a product against the updated parameter uses its new values; no tensor is left behind', () => {
    // tfjs-backend-wasm caches XNNPACK operators with the packed right operand by tensor id: an update that kept
    // the id would leave this product on the old weights.
    const rng = new Rng(4);
    const params = makeParams(rng);
    const weight = params.get('big')!;
    const [k, n] = weight.shape;
    const x = tf.tensor(uniform(rng, 2 * k, 1), [2, k]);
    tf.matMul(x, weight).dispose();
    const tensors = tf.memory().numTensors;
    new HostAdam(params).step(params, makeGrads(rng), { lr: 0.1, t: 1, clip: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    const product = tf.matMul(x, weight);
    const got = product.dataSync();
    const [xs, w] = [x.dataSync(), weight.dataSync()];
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let l = 0; l < k; l++) want += xs[r * k + l] * w[l * n + j];
        // Products of terms in ±1.1 over k = 130: float32 sums stay within k · 2⁻²⁴ · Σ|x||w|.
        expect(Math.abs(got[r * n + j] - want)).toBeLessThan(k * 2 ** -24 * k * 1.21 + 1e-6);
      }
    }
    tf.dispose([x, product]);
    for (const p of params.values()) p.dispose();
  });

  test('refuses a gradient whose size is not its parameter’s', () => {
    const params = makeParams(new Rng(5));
    const optimizer = new HostAdam(params);
    const grads = new Map([['seven', new Float32Array(8)]]);
    const before = params.get('seven')!.dataSync().slice();
    expect(() => optimizer.step(params, grads, { lr: 1e-3, t: 1, clip: 1 })).toThrow(
      expect.objectContaining({
        code: 'INVALID_DATA',
        message: expect.stringMatching(/seven has 8 elements; .* has 7/),
      }),
    );
    expect(() =>
      optimizer.step(params, new Map([['absent', new Float32Array(1)]]), { lr: 1e-3, t: 1, clip: 1 }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(/absent/) }));
    // Checked before anything is updated.
    expect(params.get('seven')!.dataSync()).toEqual(before);
    for (const p of params.values()) p.dispose();
  });
});
