import { expect, expectTypeOf, test } from 'vitest';
import { toBeAllClose } from './index.js';

test('toBeAllClose is typed on expect once the package is imported', () => {
  expect.extend({ toBeAllClose });
  expectTypeOf(expect([1, 2]).toBeAllClose).toBeFunction();
  expectTypeOf(expect([1, 2]).toBeAllClose)
    .parameter(1)
    .toEqualTypeOf<{ rtol?: number; atol?: number } | undefined>();
  // @ts-expect-error a tolerance is an object, not a number
  expect([1]).toBeAllClose([1], 1e-6);
});
