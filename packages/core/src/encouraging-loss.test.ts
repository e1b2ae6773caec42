import { toBeAllClose } from '@encouraging-loss/conformance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withKernel } from './encouraging-loss.js';
import {
  arrayTensor,
  createEncouragingLoss,
  EncouragingLossError,
  type EncouragingLossOptions,
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  isEncouragingLossError,
  type LogitsInput,
  type PlainLossWithGrad,
  sigmoidEncouragingLoss,
  type TargetsInput,
  typedArrayOps,
} from './index.js';

expect.extend({ toBeAllClose });
declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match vitest's own declaration.
  interface Matchers<T = any> {
    toBeAllClose(expected: ArrayLike<number>, tolerance?: { rtol?: number; atol?: number }): T;
  }
}

const logits64 = { data: new Float64Array([2, 0.5, -1, 0.1, 3, 0.2]), shape: [2, 3] };
const targets = { data: new Int32Array([0, 1]), shape: [2] };

describe('encouragingLoss on plain tensors', () => {
  it('returns Float64Array for float64 and number[] input, Float32Array for float32', () => {
    expect(encouragingLoss(logits64, targets).data).toBeInstanceOf(Float64Array);
    expect(encouragingLoss({ data: Array.from(logits64.data), shape: [2, 3] }, targets).data).toBeInstanceOf(
      Float64Array,
    );
    const f32 = encouragingLossWithGrad({ data: Float32Array.from(logits64.data), shape: [2, 3] }, targets);
    expect(f32.loss.data).toBeInstanceOf(Float32Array);
    expect(f32.grad.data).toBeInstanceOf(Float32Array);
    expect(f32.loss.shape).toEqual([]);
    expect(Array.from(f32.grad.data)).toBeAllClose(
      Array.from(encouragingLossWithGrad(logits64, targets).grad.data),
      { rtol: 1e-6, atol: 1e-7 },
    );
  });

  it('accepts int64 targets as BigInt64Array and number[]', () => {
    const expected = encouragingLoss(logits64, targets).data[0];
    expect(encouragingLoss(logits64, { data: BigInt64Array.from([0n, 1n]), shape: [2] }).data[0]).toBe(
      expected,
    );
    expect(encouragingLoss(logits64, { data: [0, 1], shape: [2] }).data[0]).toBe(expected);
  });

  it('EL without a floor on two classes is the negative logit margin: −log p + log(1 − p) = −(z_y − z_other)', () => {
    // p = σ(a) for a = z_y − z_other, so log((1 − p)/p) = −a exactly, at any margin.
    for (const margin of [0.3, 5, 40, 80, 700, 5000]) {
      const out = encouragingLossWithGrad(
        { data: new Float64Array([margin, 0]), shape: [1, 2] },
        { data: new Int32Array([0]), shape: [1] },
        { logEnd: 1, bonusFloor: 0 },
      );
      expect(out.loss.data[0]).toBeCloseTo(-margin, 9);
      // d(−a)/dz_y = −1, d(−a)/dz_other = +1.
      expect(Array.from(out.grad.data)).toBeAllClose([-1, 1], { rtol: 1e-12, atol: 1e-15 });
    }
  });

  it('EL with the default floor on two classes: −a + … until 1 − p = 1e-5, then log 1e-5 − log p, CE gradient', () => {
    // 1 − p = σ(−a) ≥ 1e-5 ⇔ a ≤ log(1/1e-5 − 1) = 11.5129155…; past it the bonus is log 1e-5 with zero slope.
    const edge = Math.log(1e5 - 1);
    for (const margin of [0.3, 5, edge - 1e-6, edge + 1e-6, 40, 700]) {
      const out = encouragingLossWithGrad(
        { data: new Float64Array([margin, 0]), shape: [1, 2] },
        { data: new Int32Array([0]), shape: [1] },
        { logEnd: 1 },
      );
      const oneMinusP = 1 / (1 + Math.exp(margin)); // σ(−a), exact enough here (no cancellation)
      const nll = Math.log1p(Math.exp(-margin));
      if (margin < edge) {
        expect(out.loss.data[0]).toBeCloseTo(-margin, 9);
        expect(Array.from(out.grad.data)).toBeAllClose([-1, 1], { rtol: 1e-12, atol: 1e-15 });
      } else {
        expect(out.loss.data[0]).toBeCloseTo(nll + Math.log(1e-5), 12);
        expect(Array.from(out.grad.data)).toBeAllClose([-oneMinusP, oneMinusP], {
          rtol: 1e-12,
          atol: 1e-300,
        });
      }
    }
    // bonusFloor 1e-3 moves the edge to log(999).
    const floored = encouragingLossWithGrad(
      { data: new Float64Array([8, 0]), shape: [1, 2] },
      { data: new Int32Array([0]), shape: [1] },
      { logEnd: 1, bonusFloor: 1e-3 },
    );
    expect(floored.loss.data[0]).toBeCloseTo(Math.log1p(Math.exp(-8)) + Math.log(1e-3), 12);
  });

  it('EL without a floor beyond any float64 exp range: loss = log Σ_{j≠y} e^{z_j} − z_y, grad p_j/(1 − p_y)', () => {
    const out = encouragingLossWithGrad(
      { data: new Float64Array([1000, 0, -1]), shape: [1, 3] },
      { data: new Int32Array([0]), shape: [1] },
      { logEnd: 1, bonusFloor: 0 },
    );
    const rest = Math.log(1 + Math.exp(-1));
    expect(out.loss.data[0]).toBeCloseTo(rest - 1000, 9);
    expect(Array.from(out.grad.data)).toBeAllClose(
      [-1, 1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))],
      {
        rtol: 1e-12,
      },
    );
  });

  it("'none' gives the batch shape and the gradient of the sum", () => {
    const logits = { data: new Float64Array(2 * 3 * 4).map((_, i) => Math.sin(i)), shape: [2, 3, 4] };
    const seq = { data: new Int32Array([0, 3, -100, 1, 2, 2]), shape: [2, 3] };
    const none = encouragingLossWithGrad(logits, seq, { reduction: 'none', logEnd: 0.5 });
    const sum = encouragingLossWithGrad(logits, seq, { reduction: 'sum', logEnd: 0.5 });
    expect(none.loss.shape).toEqual([2, 3]);
    expect(none.loss.data[2]).toBe(0);
    expect(Array.from(none.grad.data)).toEqual(Array.from(sum.grad.data));
    expect(sum.loss.data[0]).toBeCloseTo(
      none.loss.data.reduce((a, b) => a + b, 0),
      12,
    );
  });

  it('components add up: loss = crossEntropy + bonusWeight · bonus', () => {
    for (const options of [{}, { bonusWeight: 2.5, labelSmoothing: 0.1 }, { reduction: 'none' as const }]) {
      const parts = encouragingLossComponents(logits64, targets, options);
      const rho = options.bonusWeight ?? 1;
      const summed = Array.from(parts.crossEntropy.data, (ce, i) => ce + rho * parts.bonus.data[i]);
      expect(Array.from(parts.loss.data)).toBeAllClose(summed, { rtol: 1e-14 });
      expect(Math.max(...parts.bonus.data)).toBeLessThanOrEqual(0);
    }
  });

  it('the fused kernel and the composed math agree on random inputs (two independent implementations)', () => {
    const composed = createEncouragingLoss(typedArrayOps);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 9 }),
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        fc.constantFrom(1, 0.9, 0.75, 0.5, 0.1),
        fc.constantFrom(0, 0.5, 1, 3),
        fc.constantFrom(0, 0.05, 0.3),
        fc.constantFrom('mean', 'sum', 'none'),
        fc.constantFrom('exact', 'reference'),
        fc.integer(),
        (rows, K, scale, logEnd, bonusWeight, labelSmoothing, reduction, numerics, seed) => {
          let state = seed;
          const random = () => {
            state = (Math.imul(state, 1103515245) + 12345) | 0;
            return (state >>> 0) / 2 ** 32;
          };
          const data = Float64Array.from({ length: rows * K }, () => scale * (2 * random() - 1));
          const ys = Int32Array.from({ length: rows }, () =>
            random() < 0.15 ? -100 : Math.floor(random() * K),
          );
          const options = { logEnd, bonusWeight, labelSmoothing, reduction, numerics } as const;
          const fused = encouragingLossWithGrad(
            { data, shape: [rows, K] },
            { data: ys, shape: [rows] },
            options,
          );
          const reference = composed.encouragingLossWithGrad(
            arrayTensor(data, [rows, K], 'float64'),
            arrayTensor(ys, [rows], 'int32'),
            options,
          );
          expect(Array.from(fused.loss.data)).toBeAllClose(Array.from(reference.loss.data), {
            rtol: 1e-11,
            atol: 1e-13,
          });
          expect(Array.from(fused.grad.data)).toBeAllClose(Array.from(reference.grad.data), {
            rtol: 1e-10,
            atol: 1e-13,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never gives NaN or Infinity for finite logits, whatever the margin', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.constantFrom(1, 0.75, 0.5),
        fc.constantFrom(0, 0.1),
        fc.constantFrom(Float32Array, Float64Array),
        (row, logEnd, labelSmoothing, Type) => {
          const K = row.length;
          for (let y = 0; y < K; y++) {
            const out = encouragingLossWithGrad(
              { data: Type.from(row), shape: [1, K] },
              { data: [y], shape: [1] },
              { logEnd, labelSmoothing },
            );
            for (const v of [...out.loss.data, ...out.grad.data]) expect(Number.isFinite(v)).toBe(true);
          }
        },
      ),
    );
  });
});

describe('the out gradient buffer', () => {
  const rows = 40;
  const K = 37;
  function batch(Type: Float32ArrayConstructor | Float64ArrayConstructor) {
    let seed = 99;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const data = new Type(Array.from({ length: rows * K }, () => 6 * (next() - 0.5)));
    const labels = Int32Array.from({ length: rows }, (_, r) => (r % 7 === 3 ? -100 : Math.floor(next() * K)));
    // Margins that send some rows to the JS kernel (Σ_{j≠a} e_j < 1e-20 in the WASM kernel), some of them to its
    // runner-up shift (< 1e-30), which reads the row's logits again after writing its gradient.
    for (let r = 0; r < rows; r += 9) data[r * K + Math.max(0, labels[r])] += r % 18 === 0 ? 90 : 60;
    return { logits: { data, shape: [rows, K] }, targets: { data: labels, shape: [rows] } };
  }
  const optionSets = [
    { logEnd: 1 },
    { logEnd: 0.75, reduction: 'none' as const },
    { logEnd: 0.5, labelSmoothing: 0.1, reduction: 'sum' as const },
  ];
  for (const Type of [Float64Array, Float32Array]) {
    for (const [kernel, api] of [
      ['default', encouragingLossWithGrad],
      ['js', withKernel('js').encouragingLossWithGrad],
    ] as const) {
      // One signature for both float types (the typed overloads are checked in encouraging-loss.test-d.ts).
      const call = api as (l: LogitsInput, t: TargetsInput, o?: object) => PlainLossWithGrad;
      it(`writes the same gradient into out and returns it (${Type.name}, ${kernel} kernel)`, () => {
        const { logits, targets } = batch(Type);
        for (const options of optionSets) {
          const fresh = call(logits, targets, options);
          // Garbage from a previous step must not leak: every entry is overwritten (ignored rows included).
          const out = new Type(rows * K).fill(Number.NaN);
          const reused = call(logits, targets, { ...options, out });
          expect(reused.grad.data).toBe(out);
          expect(reused.grad.shape).toEqual([rows, K]);
          expect(Array.from(out)).toEqual(Array.from(fresh.grad.data));
          expect(Array.from(reused.loss.data)).toEqual(Array.from(fresh.loss.data));
          // In place: the gradient replaces the logits (rows the WASM kernel hands to the JS kernel included).
          const own = logits.data.slice();
          const inPlace = call({ data: own, shape: logits.shape }, targets, { ...options, out: own });
          expect(inPlace.grad.data).toBe(own);
          expect(Array.from(own)).toEqual(Array.from(fresh.grad.data));
          expect(Array.from(inPlace.loss.data)).toEqual(Array.from(fresh.loss.data));
        }
      });
    }
  }

  it('property: whatever out holds before the call, and in place, the result equals the fresh-buffer result', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 40 }),
        fc.constantFrom(Float32Array, Float64Array),
        fc.record({
          logEnd: fc.constantFrom(1, 0.75, 0.3),
          labelSmoothing: fc.constantFrom(0, 0.1),
          reduction: fc.constantFrom('mean' as const, 'sum' as const, 'none' as const),
        }),
        fc.constantFrom(0, Number.NaN, Number.POSITIVE_INFINITY, -1e300),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (rows, K, Type, options, garbage, seed) => {
          let state = seed;
          const next = () => {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            return state / 2 ** 32;
          };
          const data = new Type(Array.from({ length: rows * K }, () => 30 * (next() - 0.5)));
          const labels = Array.from({ length: rows }, () => (next() < 0.2 ? -100 : Math.floor(next() * K)));
          const logits = { data, shape: [rows, K] };
          const targets = { data: labels, shape: [rows] };
          const call = encouragingLossWithGrad as (
            l: LogitsInput,
            t: TargetsInput,
            o?: object,
          ) => PlainLossWithGrad;
          const fresh = call(logits, targets, options);
          const out = new Type(rows * K).fill(garbage);
          const reused = call(logits, targets, { ...options, out });
          expect(reused.grad.data).toBe(out);
          expect(Array.from(out)).toEqual(Array.from(fresh.grad.data));
          const own = data.slice();
          call({ data: own, shape: logits.shape }, targets, { ...options, out: own });
          expect(Array.from(own)).toEqual(Array.from(fresh.grad.data));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('in place, a NaN found in a later chunk is still reported at its own index', () => {
    // 40 rows of K = 1000: the WASM kernel works in chunks of 16 (float32) rows and overwrites earlier ones first.
    const data = new Float32Array(40 * 1000).fill(0.25);
    data[35 * 1000 + 7] = Number.NaN;
    const call = () =>
      encouragingLossWithGrad(
        { data, shape: [40, 1000] },
        { data: new Int32Array(40), shape: [40] },
        { out: data },
      );
    expect(call).toThrow(EncouragingLossError);
    expect(call).toThrow(/35007|\[35, 7\]/);
  });

  it('works on the composed path too (soft targets) and with number[] logits', () => {
    const logits = { data: [2, 0.5, -1, 0.1, 3, 0.2], shape: [2, 3] };
    const soft = { data: [0.7, 0.2, 0.1, 0, 1, 0], shape: [2, 3] };
    for (const t of [soft, targets]) {
      const out = new Float64Array(6).fill(Number.NaN);
      const reused = encouragingLossWithGrad(logits, t, { out });
      expect(reused.grad.data).toBe(out);
      expect(Array.from(out)).toEqual(Array.from(encouragingLossWithGrad(logits, t).grad.data));
    }
  });

  it('INVALID_DTYPE, INVALID_SHAPE and INVALID_OPTION (partial overlap) name the bad buffer', () => {
    const logits32 = { data: Float32Array.from(logits64.data), shape: [2, 3] };
    const fail = (call: () => unknown, code: string, message: RegExp) => {
      try {
        call();
      } catch (error) {
        expect(isEncouragingLossError(error) && error.code).toBe(code);
        expect((error as Error).message).toMatch(message);
        return;
      }
      expect.fail('no error');
    };
    const anyOut = (out: unknown) => ({ out }) as EncouragingLossOptions;
    fail(
      () => encouragingLossWithGrad(logits64, targets, anyOut(new Float32Array(6))),
      'INVALID_DTYPE',
      /Float64Array.*Float32Array/,
    );
    fail(
      () => encouragingLossWithGrad(logits32, targets, anyOut(new Float64Array(6))),
      'INVALID_DTYPE',
      /Float32Array.*Float64Array/,
    );
    fail(
      () =>
        encouragingLossWithGrad(
          { data: [0, 1, 2, 3, 4, 5], shape: [2, 3] },
          targets,
          anyOut([0, 0, 0, 0, 0, 0]),
        ),
      'INVALID_DTYPE',
      /out must be a Float64Array.*Array/,
    );
    fail(
      () => encouragingLossWithGrad(logits64, targets, { out: new Float64Array(5) }),
      'INVALID_SHAPE',
      /length 5, expected 6.*\[2, 3\]/,
    );

    // Views of one buffer that overlap at an offset are refused; disjoint views (and the logits' own array) are fine.
    const shared = new Float64Array(12);
    shared.set(logits64.data, 3);
    const view = { data: shared.subarray(3, 9), shape: [2, 3] };
    fail(
      () => encouragingLossWithGrad(view, targets, { out: shared.subarray(0, 6) }),
      'INVALID_OPTION',
      /overlaps the logits at an offset \(bytes 0–48 against 24–72/,
    );
    const disjoint = shared.subarray(0, 6);
    shared.set(logits64.data, 6);
    const tail = { data: shared.subarray(6, 12), shape: [2, 3] };
    expect(encouragingLossWithGrad(tail, targets, { out: disjoint }).grad.data).toBe(disjoint);
    expect(Array.from(disjoint)).toEqual(Array.from(encouragingLossWithGrad(logits64, targets).grad.data));
  });
});

describe('errors', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(isEncouragingLossError(error)).toBe(true);
      expect(error).toBeInstanceOf(EncouragingLossError);
      return { code: (error as EncouragingLossError).code, message: (error as Error).message };
    }
    throw new Error('expected an EncouragingLossError');
  };

  it.each([
    [{ logEnd: 0 }, 'logEnd', '0'],
    [{ logEnd: 1.5 }, 'logEnd', '1.5'],
    [{ logEnd: Number.NaN }, 'logEnd', 'NaN'],
    [{ bonusWeight: -1 }, 'bonusWeight', '-1'],
    [{ labelSmoothing: 1 }, 'labelSmoothing', '1'],
    [{ ignoreIndex: 1.5 }, 'ignoreIndex', '1.5'],
    [{ reduction: 'avg' }, 'reduction', 'avg'],
    [{ numerics: 'fast' }, 'numerics', 'fast'],
    [{ input: 'scores' }, 'input', 'scores'],
    [{ checkFinite: 'yes' }, 'checkFinite', 'yes'],
    [{ classWeights: [1, 2] }, 'classWeights', 'length 2'],
    [{ classWeights: [1, -2, 1] }, 'classWeights[1]', '-2'],
    [{ bonusFloor: -1e-5 }, 'bonusFloor', '-0.00001'],
    [{ bonusFloor: 0.1 }, 'bonusFloor', '0.1'],
    [{ bonusFloor: Number.POSITIVE_INFINITY }, 'bonusFloor', 'Infinity'],
  ])('INVALID_OPTION for %j names the option and the value', (options, name, value) => {
    const error = code(() => encouragingLoss(logits64, targets, options as never));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain(name);
    expect(error.message).toContain(value);
  });

  it.each([
    ['logend', 'logEnd'],
    ['label_smoothing', 'labelSmoothing'],
    ['bonusfloor', 'bonusFloor'],
    ['reductoin', 'reduction'],
  ])('INVALID_OPTION for the unknown key %s names the nearest valid one', (key, nearest) => {
    const sigmoidHasIt = nearest !== 'labelSmoothing'; // the multi-label variant has no label smoothing
    for (const call of [
      () => encouragingLoss(logits64, targets, { [key]: 0.5 } as never),
      () => encouragingLossWithGrad(logits64, targets, { [key]: 0.5 } as never),
      () =>
        (sigmoidHasIt ? sigmoidEncouragingLoss : encouragingLoss)(
          logits64,
          { data: [0, 1, 0, 1, 0, 1], shape: [2, 3] },
          {
            [key]: 0.5,
          } as never,
        ),
    ]) {
      const error = code(call);
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toContain(`"${key}"`);
      expect(error.message).toContain(`did you mean ${nearest}?`);
    }
  });

  it('an unknown key far from every option is named without a guess', () => {
    const error = code(() => encouragingLoss(logits64, targets, { temperature: 2 } as never));
    expect(error.message).toContain('Unknown option "temperature".');
    expect(error.message).not.toContain('did you mean');
  });

  it('INVALID_SHAPE for K < 2, mismatched targets and wrong data length', () => {
    expect(
      code(() => encouragingLoss({ data: [1, 2], shape: [2, 1] }, { data: [0, 0], shape: [2] })).code,
    ).toBe('INVALID_SHAPE');
    const mismatch = code(() => encouragingLoss(logits64, { data: [0, 1, 2], shape: [3] }));
    expect(mismatch.code).toBe('INVALID_SHAPE');
    expect(mismatch.message).toContain('[3]');
    expect(mismatch.message).toContain('[2, 3]');
    expect(code(() => encouragingLoss({ data: [1, 2, 3], shape: [2, 3] }, targets)).code).toBe(
      'INVALID_SHAPE',
    );
  });

  it('INVALID_DTYPE for integer logits and float class indices', () => {
    expect(
      code(() => encouragingLoss({ data: new Int32Array(6) as never, shape: [2, 3] }, targets)).code,
    ).toBe('INVALID_DTYPE');
    expect(code(() => encouragingLoss(logits64, { data: new Float32Array([0, 1]), shape: [2] })).code).toBe(
      'INVALID_DTYPE',
    );
  });

  it.each([[3], [-1], [0.5]])('INVALID_TARGET for target %d names its index and coordinates', (bad) => {
    const seq = { data: new Float64Array(2 * 2 * 3), shape: [2, 2, 3] };
    const error = code(() => encouragingLoss(seq, { data: [0, 1, 2, bad], shape: [2, 2] }));
    expect(error.code).toBe('INVALID_TARGET');
    expect(error.message).toContain(`Target ${bad} at index 3`);
    expect(error.message).toContain('[1, 1]');
  });

  it('NON_FINITE names the value and where it is; checkFinite: false skips the scan', () => {
    const data = new Float64Array([0, 1, 2, 3, Number.POSITIVE_INFINITY, 5]);
    const error = code(() => encouragingLoss({ data, shape: [2, 3] }, targets));
    expect(error.code).toBe('NON_FINITE');
    expect(error.message).toContain('Infinity at index 4');
    expect(error.message).toContain('[1, 1]');
    expect(() => encouragingLoss({ data, shape: [2, 3] }, targets, { checkFinite: false })).not.toThrow();
  });

  it('soft targets must be probabilities', () => {
    const error = code(() => encouragingLoss(logits64, { data: [0.5, 0.5, 0, 2, -1, 0], shape: [2, 3] }));
    expect(error.code).toBe('INVALID_TARGET');
  });

  it('UNSUPPORTED_BACKEND for TensorOps without specificationVersion v1', () => {
    expect(code(() => createEncouragingLoss({ specificationVersion: 'v0' } as never)).code).toBe(
      'UNSUPPORTED_BACKEND',
    );
  });

  it('sigmoid targets must be 0, 1 or ignoreIndex', () => {
    const error = code(() =>
      sigmoidEncouragingLoss({ data: [1, 2], shape: [2] }, { data: [1, 0.5], shape: [2] }),
    );
    expect(error.code).toBe('INVALID_TARGET');
    expect(error.message).toContain('0.5');
  });
});
