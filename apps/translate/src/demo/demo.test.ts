import { expect, test } from 'vitest';
import { parseSeeds } from './demo.js';

test('--seeds: a comma-separated list of distinct non-negative integers', () => {
  expect(parseSeeds('1,2,3')).toEqual([1, 2, 3]);
  expect(parseSeeds(' 7 ')).toEqual([7]);
  for (const bad of ['1,,2', '1,1', '1.5', '-1', 'a', '']) {
    expect(() => parseSeeds(bad), bad).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('--seeds') }),
    );
  }
});
