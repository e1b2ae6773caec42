import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EncouragingLossError, prepareInput, prepareSigmoidInput } from './index.js';

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof EncouragingLossError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an EncouragingLossError');
}

const logits = (shape: number[], values?: number[], dtype = 'float32') => ({
  shape,
  dtype,
  read: () => values ?? new Array(shape.reduce((a, b) => a * b, 1)).fill(0),
});

describe('prepareInput', () => {
  it('reads class indices of the batch shape and soft targets of the logits shape', () => {
    const indices = prepareInput(logits([2, 3, 4]), {
      shape: [2, 3],
      dtype: 'int32',
      read: () => [0, 1, 2, 3, 0, 1],
    });
    expect(indices).toMatchObject({ classCount: 4, targetType: 'indices' });
    expect(indices.options.logEnd).toBe(0.75);
    const soft = prepareInput(logits([2, 3]), {
      shape: [2, 3],
      dtype: 'float32',
      read: () => [1, 0, 0, 0.5, 0.5, 0],
    });
    expect(soft).toMatchObject({ classCount: 3, targetType: 'probabilities' });
  });

  it('accepts BigInt64 class indices and ignoreIndex', () => {
    const out = prepareInput(logits([3, 2]), {
      shape: [3],
      dtype: 'int64',
      read: () => BigInt64Array.from([0n, -100n, 1n]),
    });
    expect(out.targetType).toBe('indices');
  });

  it('names a wrong dtype, with the adapter hint', () => {
    expect(
      codeOf(() => prepareInput(logits([2, 3], undefined, 'int32'), { shape: [2], dtype: 'int32' })),
    ).toMatchObject({
      code: 'INVALID_DTYPE',
      message: expect.stringMatching(/Logits must be float32 or float64, got int32 \(shape \[2, 3\]\)/),
    });
    const hinted = codeOf(() =>
      prepareInput(
        logits([2, 3]),
        { shape: [2], dtype: 'float32' },
        {},
        { indexDTypes: ['int32'], indexDTypeHint: 'cast them' },
      ),
    );
    expect(hinted).toEqual({
      code: 'INVALID_DTYPE',
      message: 'Class indices must be int32, got float32 (shape [2]); cast them.',
    });
    expect(codeOf(() => prepareInput(logits([2, 3]), { shape: [2, 3], dtype: 'bool' })).code).toBe(
      'INVALID_DTYPE',
    );
  });

  it('an index dtype of the logits rank is a shape error naming both shapes', () => {
    expect(codeOf(() => prepareInput(logits([2, 5]), { shape: [1, 2], dtype: 'int64' }))).toMatchObject({
      code: 'INVALID_SHAPE',
      message: expect.stringMatching(/\[1, 2\].*\[2, 5\]/),
    });
  });

  it('checks options against K', () => {
    expect(
      codeOf(() => prepareInput(logits([2, 5]), { shape: [2], dtype: 'int32' }, { classWeights: [1, 2, 3] })),
    ).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('expected K = 5') });
  });

  it('finds the first bad target or logit by flat index, and skips what it may not read', () => {
    const targets = { shape: [2], dtype: 'int32', read: () => [0, 5] };
    expect(codeOf(() => prepareInput(logits([2, 5]), targets))).toMatchObject({
      code: 'INVALID_TARGET',
      message: expect.stringContaining('Target 5 at index 1'),
    });
    expect(() => prepareInput(logits([2, 5]), targets, {}, { checkTargets: false })).not.toThrow();
    expect(() => prepareInput(logits([2, 5]), { shape: [2], dtype: 'int32' })).not.toThrow();
    const nan = Array.from({ length: 10 }, (_, i) => (i === 7 ? Number.NaN : 0));
    const ok = { shape: [2], dtype: 'int32', read: () => [0, 1] };
    expect(codeOf(() => prepareInput(logits([2, 5], nan), ok))).toMatchObject({
      code: 'NON_FINITE',
      message: expect.stringContaining('index 7 (coordinates [1, 2])'),
    });
    expect(() => prepareInput(logits([2, 5], nan), ok, { checkFinite: false })).not.toThrow();
    expect(() => prepareInput({ shape: [2, 5], dtype: 'float32' }, ok)).not.toThrow();
  });

  it('accepts every in-range index vector and rejects any with one out-of-range entry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: -50, max: 50 }),
        (K, raw, bad) => {
          const good = raw.map((v) => v % K);
          const run = (values: number[]) =>
            prepareInput(logits([values.length, K]), {
              shape: [values.length],
              dtype: 'int32',
              read: () => values,
            });
          expect(run(good).classCount).toBe(K);
          if (bad >= 0 && bad < K) return;
          if (bad === -100) return;
          const withBad = [...good];
          withBad[withBad.length - 1] = bad;
          expect(codeOf(() => run(withBad)).code).toBe('INVALID_TARGET');
        },
      ),
    );
  });
});

describe('prepareSigmoidInput', () => {
  it('checks shape, dtype and 0/1/ignoreIndex targets', () => {
    expect(
      prepareSigmoidInput(logits([2, 2]), { shape: [2, 2], dtype: 'float32', read: () => [0, 1, -100, 1] })
        .options.ignoreIndex,
    ).toBe(-100);
    expect(codeOf(() => prepareSigmoidInput(logits([2, 2]), { shape: [2, 3], dtype: 'float32' })).code).toBe(
      'INVALID_SHAPE',
    );
    expect(
      codeOf(() =>
        prepareSigmoidInput(logits([2, 2]), { shape: [2, 2], dtype: 'float32', read: () => [0, 0.5, 1, 1] }),
      ),
    ).toMatchObject({
      code: 'INVALID_TARGET',
      message: expect.stringContaining('0.5 at index 1 (coordinates [0, 1])'),
    });
    expect(codeOf(() => prepareSigmoidInput(logits([2, 2]), { shape: [2, 2], dtype: 'int64' })).code).toBe(
      'INVALID_DTYPE',
    );
  });
});
