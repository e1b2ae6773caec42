import { describe, expect, it } from 'vitest';
import { toBeAllClose } from './index.js';

expect.extend({ toBeAllClose });

describe('toBeAllClose', () => {
  it('passes within rtol/atol and names the first bad index otherwise', () => {
    expect(Float32Array.from([1, 2, 3])).toBeAllClose([1, 2, 3.000001], { rtol: 1e-6 });
    expect(() => expect([1, 2, 3.1]).toBeAllClose([1, 2, 3], { rtol: 1e-3 })).toThrow(/index 2: 3.1/);
    expect(() => expect([1, Number.NaN]).toBeAllClose([1, 2])).toThrow(/index 1/);
    expect(() => expect([1]).toBeAllClose([1, 2])).toThrow(/length 2, got 1/);
    expect([1, 2]).not.toBeAllClose([1, 3]);
  });
});
