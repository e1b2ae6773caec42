import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeGrads, makeParams, runAgainstReference, uniform } from '../../test/adam-reference.js';
import { openAdamKernel } from '../model/kernels/adam.js';
import { experimental_setAppKernels } from '../model/kernels/switch.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { HostAdam } from './optimizer.js';

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

  test('matches float64 Adam for any step number, learning rate, clip and gradient scale (bias correction depends on t)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(1e-4, 3e-3, 5e-2),
        fc.constantFrom(0.01, 0.5, 80, 1e6),
        fc.constantFrom(undefined, 1, 1 / 3000, 7.5),
        (seed, t0, lr, clip, gradientScale) => {
          runAgainstReference({ seed, lr, clip, t0, steps: 3, gradientScale });
        },
      ),
      { numRuns: 16 },
    );
  });

  test('gradientScale s: the step with gradients g and s is the step with gradients s·g (norm s·‖g‖)', () => {
    const scaled = runAgainstReference({
      seed: 6,
      lr: 1e-2,
      clip: 1,
      t0: 1,
      steps: 2,
      gradientScale: 1 / 3000,
    });
    // ~17k gradients in ±1 (‖g‖ ≈ 75): over 3000, the norm is ≈ 0.025 and clipping at 1 inactive.
    expect(Math.max(...scaled)).toBeLessThan(0.05);
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
