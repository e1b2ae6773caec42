import { expect } from 'vitest';

/** Elementwise tolerance: |actual − expected| ≤ atol · scale + rtol · |expected|, scale = max(1, max |expected|). */
export interface Tolerance {
  rtol: number;
  atol: number;
}

/**
 * Tolerances for a backend's float dtype, against float64-exact reference values. Float32 backends carry ~6e-8
 * relative rounding per op and sums over K up to 32 000 classes.
 */
export function tolerancesFor(precision: 'float32' | 'float64'): Tolerance {
  return precision === 'float64' ? { rtol: 1e-9, atol: 1e-12 } : { rtol: 5e-5, atol: 2e-6 };
}

/**
 * Asserts two arrays are elementwise close (see {@link Tolerance}); the failure names the first bad index, both
 * values and the allowed error. Also fails on NaN or infinite values where the reference is finite.
 */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  what = 'values',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const allowed = tolerance.atol * scale + tolerance.rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= allowed)) {
      expect.fail(
        `${what}[${i}] = ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > allowed ${allowed}; rtol ${tolerance.rtol}, atol ${tolerance.atol})`,
      );
    }
  }
}

/**
 * A vitest matcher: `expect(actual).toBeAllClose(expected, { rtol, atol })`. Register it with
 * `expect.extend({ toBeAllClose })`.
 */
export function toBeAllClose(
  received: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Partial<Tolerance> = {},
): { pass: boolean; message: () => string } {
  const rtol = tolerance.rtol ?? 1e-9;
  const atol = tolerance.atol ?? 1e-12;
  if (received.length !== expected.length) {
    return { pass: false, message: () => `expected length ${expected.length}, got ${received.length}` };
  }
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const allowed = atol * scale + rtol * Math.abs(expected[i]);
    if (!(Math.abs(received[i] - expected[i]) <= allowed)) {
      return {
        pass: false,
        message: () => `index ${i}: ${received[i]} is not within ${allowed} of ${expected[i]}`,
      };
    }
  }
  return { pass: true, message: () => 'expected arrays not to be all close' };
}

/** The `toBeAllClose` matcher's signature, for the vitest type augmentation below. */
export interface AllCloseMatchers<R = unknown> {
  /**
   * Elementwise `|actual − expected| ≤ atol · max(1, max |expected|) + rtol · |expected|` (defaults rtol 1e-9,
   * atol 1e-12). Register the matcher once with `expect.extend({ toBeAllClose })`.
   */
  toBeAllClose(expected: ArrayLike<number>, tolerance?: Partial<Tolerance>): R;
}

// Importing this package types `expect(x).toBeAllClose(...)` (vitest ≥ 3.2 reads custom matchers from `Matchers`).
declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: vitest's own declaration has this type parameter.
  interface Matchers<T = any> extends AllCloseMatchers<T> {}
}
