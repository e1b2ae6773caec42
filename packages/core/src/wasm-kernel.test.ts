import { describe, expect, it } from 'vitest';
import { encouragingLossWithGrad, withKernel } from './encouraging-loss.js';
import { EncouragingLossError } from './errors.js';
import { fusedEncouragingLoss } from './fused-kernel.js';
import { type EncouragingLossOptions, resolveOptions } from './options.js';
import { wasmEncouragingLoss, wasmKernel } from './wasm-kernel.js';

function random(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

// The bounds of scripts/verify-exp.mjs (exhaustive for float32), checked here on samples against Math.exp.
describe('vectorised exp', () => {
  const wasm = wasmKernel() as unknown as {
    memory: WebAssembly.Memory;
    exp_f32(ptr: number, n: number): void;
    exp_f64(ptr: number, n: number): void;
    data_start: WebAssembly.Global;
  };
  const DATA_START = wasm.data_start.value as number;
  const pages = Math.ceil((DATA_START + (1 << 19)) / 65536);
  if (wasm.memory.buffer.byteLength < pages * 65536)
    wasm.memory.grow(pages - wasm.memory.buffer.byteLength / 65536);
  it('float32: relative error ≤ 3e-7 on (−86.5, 0], 0 below, for −∞ and NaN', () => {
    const next = random(7);
    const n = 1 << 16;
    const inputs = Float32Array.from({ length: n }, (_, i) => (i % 2 ? -86.5 * next() : -next() * 2));
    inputs.set([0, -0, -1e-30, -86.49, -86.5, -90, Number.NEGATIVE_INFINITY, Number.NaN]);
    const view = new Float32Array(wasm.memory.buffer, DATA_START, n);
    view.set(inputs);
    wasm.exp_f32(DATA_START, n);
    // One assertion over the worst case: 65 536 expect() calls cost seconds on a busy machine.
    let worst = 0;
    const notZero: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = inputs[i];
      if (x > -86.5) worst = Math.max(worst, Math.abs(view[i] - Math.exp(x)) / Math.exp(x));
      else if (view[i] !== 0) notZero.push(i);
    }
    expect(worst).toBeLessThanOrEqual(3e-7);
    expect(notZero, 'inputs ≤ −86.5 (and NaN) must give 0').toEqual([]);
  }, 120_000);
  // 2.61e-16 (docs/performance.md) plus Math.exp's own error (< 1 ulp, 2.3e-16 relative).
  it('float64: relative error ≤ 5e-16 against Math.exp on (−708, 0], 0 below, exp(0) = 1', () => {
    const next = random(11);
    const n = 1 << 16;
    const inputs = Float64Array.from({ length: n }, (_, i) => (i % 2 ? -708 * next() : -next() * 2));
    inputs.set([0, -1e-300, -0.5 * Math.LN2, -707.9, -708, -1000, Number.NEGATIVE_INFINITY, Number.NaN]);
    const view = new Float64Array(wasm.memory.buffer, DATA_START, n);
    view.set(inputs);
    wasm.exp_f64(DATA_START, n);
    let worst = 0;
    const notZero: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = inputs[i];
      if (x > -708) worst = Math.max(worst, Math.abs(view[i] - Math.exp(x)) / Math.exp(x));
      else if (view[i] !== 0) notZero.push(i);
    }
    expect(worst).toBeLessThanOrEqual(5e-16);
    expect(notZero, 'inputs ≤ −708 (and NaN) must give 0').toEqual([]);
    expect(view[0]).toBe(1);
  }, 120_000);
});

// The WASM kernel against the JS kernel (itself held to the decimal references by the conformance suite), on
// shapes the conformance cases do not reach: several chunks, K not a multiple of the lane count, ignored rows,
// margins on both sides of the runner-up fallback, ties, NaN rows with the finite check off.
describe('WASM kernel matches the JS kernel', () => {
  const cases: [string, number, number, EncouragingLossOptions][] = [
    ['EL, K = 1000, many chunks', 300, 1000, { logEnd: 1 }],
    ['CEL 0.75, K = 7', 200, 7, { logEnd: 0.75, reduction: 'none' }],
    [
      'CEL 0.5, class weights, sum',
      64,
      5,
      { logEnd: 0.5, reduction: 'sum', classWeights: [1, 2, 0.5, 3, 0] },
    ],
    ['CE, K = 3', 50, 3, { bonusWeight: 0 }],
    ['reference numerics, K = 9', 80, 9, { logEnd: 1, numerics: 'reference' }],
    ['EL, K = 20001 (a chunk per row)', 6, 20001, { logEnd: 1, reduction: 'none' }],
    ['CEL 0.5, label smoothing 0.1', 300, 1000, { logEnd: 0.5, labelSmoothing: 0.1 }],
    ['EL, label smoothing 0.2, K = 7', 200, 7, { logEnd: 1, labelSmoothing: 0.2, reduction: 'none' }],
    [
      'CEL 0.25, label smoothing 0.3, weights',
      64,
      5,
      { logEnd: 0.25, labelSmoothing: 0.3, classWeights: [1, 2, 0.5, 3, 0] },
    ],
    [
      'reference, label smoothing 0.1, K = 9',
      80,
      9,
      { logEnd: 1, numerics: 'reference', labelSmoothing: 0.1, reduction: 'sum' },
    ],
    // Below logEnd = 2^-7 the smoothing pass's division-free series must leave tangent lanes to the general path.
    ['CEL 0.002, label smoothing 0.1', 100, 1000, { logEnd: 0.002, labelSmoothing: 0.1 }],
    [
      'CEL 0.01, label smoothing 0.1, K = 201',
      100,
      201,
      { logEnd: 0.01, labelSmoothing: 0.1, reduction: 'none' },
    ],
    [
      'CEL 0.75, label smoothing 0.1, K = 20001',
      6,
      20001,
      { logEnd: 0.75, labelSmoothing: 0.1, reduction: 'none' },
    ],
  ];
  for (const [name, rows, K, options] of cases) {
    for (const Type of [Float64Array, Float32Array]) {
      it(`${name}, ${Type.name}`, () => {
        const next = random(rows * K);
        const logits = new Type(rows * K);
        const targets = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          targets[r] = r % 11 === 10 ? -100 : Math.floor(next() * K);
          // Margins from 0 to 120 on the target or another class; some rows tied.
          const margin = (r % 13) * 10 * next();
          const lead = r % 3 === 0 ? (targets[r] + 1) % K : Math.max(0, targets[r]);
          for (let j = 0; j < K; j++) logits[r * K + j] = 4 * (next() - 0.5);
          logits[r * K + lead] += margin;
          if (r % 17 === 5) logits[r * K + ((lead + 1) % K)] = logits[r * K + lead];
        }
        const resolved = resolveOptions({ ...options, checkFinite: false }, K);
        const expected = fusedEncouragingLoss(logits, targets, K, resolved, true);
        const actual = wasmEncouragingLoss(logits, targets, K, resolved, true)!;
        // Both kernels' exp agree within 3e-7 (float32) and 5e-16 (float64) relative.
        const [rtol, atol] = Type === Float32Array ? [5e-6, 1e-7] : [1e-12, 1e-13];
        for (const key of ['loss', 'crossEntropy', 'bonus', 'grad'] as const) {
          const a = actual[key]!;
          const e = expected[key]!;
          expect(a.length).toBe(e.length);
          for (let i = 0; i < e.length; i++) {
            const allowed = atol + rtol * Math.abs(e[i]);
            if (!(Math.abs(a[i] - e[i]) <= allowed)) expect.fail(`${key}[${i}] = ${a[i]}, expected ${e[i]}`);
          }
        }
      });
    }
  }

  it('runs rows with NaN or infinite logits through the JS kernel when the finite check is off', () => {
    const logits = new Float32Array([
      1,
      2,
      3,
      Number.NaN,
      0,
      1,
      Number.POSITIVE_INFINITY,
      0,
      2,
      Number.NEGATIVE_INFINITY,
      1,
      0,
    ]);
    const targets = new Int32Array([0, 1, 2]);
    const resolved = resolveOptions({ checkFinite: false, reduction: 'none' }, 4);
    const expected = fusedEncouragingLoss(logits, targets, 4, resolved, true);
    const actual = wasmEncouragingLoss(logits, targets, 4, resolved, true)!;
    expect(Array.from(actual.loss)).toEqual(Array.from(expected.loss));
    expect(Array.from(actual.grad!.subarray(0, 8))).toEqual(Array.from(expected.grad!.subarray(0, 8)));
    // Row 2 (−∞) stays on the WASM path: exp(−∞) = 0 there too.
    expect(Math.abs(actual.loss[2] - expected.loss[2])).toBeLessThan(1e-6);
  });

  it('keeps the finite check of the default path (the first bad index is named)', () => {
    const data = new Float32Array(4 * 1000).fill(0.5);
    data[2345] = Number.NaN;
    const call = () =>
      encouragingLossWithGrad({ data, shape: [4, 1000] }, { data: new Int32Array(4), shape: [4] });
    expect(call).toThrow(EncouragingLossError);
    expect(call).toThrow(/2345|\[2, 345\]/);
    const js = () =>
      withKernel('js').encouragingLossWithGrad(
        { data, shape: [4, 1000] },
        { data: new Int32Array(4), shape: [4] },
      );
    expect(() => call()).toThrowError(
      (() => {
        try {
          js();
        } catch (error) {
          return (error as Error).message;
        }
        return 'no error';
      })(),
    );
  });

  it('takes BigInt64Array targets', () => {
    const logits = { data: Float64Array.from({ length: 30 }, (_, i) => Math.sin(i)), shape: [3, 10] };
    const a = encouragingLossWithGrad(logits, { data: new BigInt64Array([1n, 2n, -100n]), shape: [3] });
    const b = withKernel('js').encouragingLossWithGrad(logits, {
      data: new Int32Array([1, 2, -100]),
      shape: [3],
    });
    expect(Math.abs(a.loss.data[0] - b.loss.data[0])).toBeLessThan(1e-14);
    expect(Array.from(a.grad.data.subarray(20))).toEqual(new Array(10).fill(0));
  });
});
