import { expect, test } from 'vitest';
import { emojiLabelPairs } from './emoji-data.js';

test('emojibase English/German labels pair up by code point', () => {
  const pairs = emojiLabelPairs();
  expect(pairs.length).toBeGreaterThan(1500);
  expect(pairs).toContainEqual({ source: 'grinning face', target: 'grinsendes Gesicht' });
  expect(pairs.every((p) => p.source.trim() && p.target.trim())).toBe(true);
});
