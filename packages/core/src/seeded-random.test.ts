import { describe, expect, it } from 'vitest';
import { mulberry32Next, mulberry32Value, seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  it("is mulberry32: the reference algorithm's outputs for seed 0", () => {
    // From the C reference's uint32 arithmetic, computed separately in Python (arbitrary-precision ints masked to
    // 32 bits): state += 0x6D2B79F5; t = (t ^ t >> 15) * (t | 1); t ^= t + (t ^ t >> 7) * (t | 61); t ^ t >> 14.
    const random = seededRandom(0);
    const first = Array.from({ length: 3 }, () => Math.round(random() * 4294967296));
    expect(first).toEqual([1144304738, 1416247, 958946056]);
  });

  it('the step function and the generator give the same stream; the state resumes it', () => {
    const random = seededRandom(42);
    let state = 42;
    for (let i = 0; i < 100; i++) {
      state = mulberry32Next(state);
      const value = mulberry32Value(state);
      expect(random()).toBe(value);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });
});
