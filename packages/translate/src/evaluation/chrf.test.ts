import { expect, test } from 'vitest';
import { corpusChrf, sentenceChrf } from './chrf.js';

// Expected values: sacreBLEU's own test vectors (test/test_chrf.py); EPSILON as there.
const EPSILON = 1e-4;

test.each([
  [['abcdefg'], ['hijklmnop'], 0.0],
  [['a'], ['b'], 0.0],
  [[''], ['b'], 0.0],
  [[''], ['ref'], 0.0],
  [[''], ['reference'], 0.0],
  [['aa'], ['ab'], 8.3333],
  [['a', 'b'], ['a', 'c'], 8.3333],
  [['a'], ['a'], 16.6667],
  [['a b c'], ['a b c'], 50.0],
  [['a b c'], ['abc'], 50.0],
  [
    [
      ' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
    ],
    [
      'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
    ],
    63.36173,
  ],
  [
    [' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
    ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'],
    64.1302698,
  ],
  [
    ['Niemand hat die Absicht, eine Mauer zu errichten'],
    ['Niemand hat die Absicht, eine Mauer zu errichten'],
    100.0,
  ],
])('eps smoothing, β=3: %o vs %o → %f', (h, r, expected) => {
  expect(Math.abs(corpusChrf(h, r, { beta: 3, epsSmoothing: true }).score - expected)).toBeLessThan(EPSILON);
});

test.each([
  [['a'], ['a'], 100.0],
  [[''], ['reference'], 0.0],
  [['a b c'], ['a b c'], 100.0],
  [['a b c'], ['abc'], 100.0],
  [[''], ['c'], 0.0],
  [['a', 'b'], ['a', 'c'], 50.0],
  [['aa'], ['ab'], 25.0],
])('effective order, β=3: %o vs %o → %f', (h, r, expected) => {
  expect(Math.abs(corpusChrf(h, r, { beta: 3 }).score - expected)).toBeLessThan(EPSILON);
});

test.each([
  [
    'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
    'Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
    67.3481606,
  ],
  [
    'risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
    'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
    65.2414427,
  ],
])('keep whitespace, β=3: %s', (h, r, expected) => {
  expect(Math.abs(corpusChrf([h], [r], { beta: 3, keepWhitespace: true }).score - expected)).toBeLessThan(
    EPSILON,
  );
});

test.each([
  [
    'Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
    'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.',
    39.14078509,
  ],
  [
    'Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
    'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.',
    31.22557079,
  ],
  [
    'Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
    'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.',
    57.15704367,
  ],
])('sentence level, default β=2, eps smoothing: %s', (h, r, expected) => {
  expect(Math.abs(sentenceChrf(h, r, { epsSmoothing: true }).score - expected)).toBeLessThan(EPSILON);
});

// sacreBLEU averages precision and recall over the orders both sides have n-grams of; the orders neither side reaches
// (here 3–6) must not add their ε to the averages: with them, "ab" against "xy" scored 2e-14 instead of 0.
test('orders that neither side reaches add nothing to the averages', () => {
  expect(sentenceChrf('ab', 'xy').score).toBe(0);
  // Orders 1–2 only: precision 1, recall (2/7 + 1/6) / 2 = 19/84 → F2 = 100 · 5 · (19/84) / (4 + 19/84) = 9500/355;
  // sacreBLEU's CHRF().sentence_score('ab', ['abcdefg']) gives 26.76056338028169 (and 0.0 for 'ab' against 'xy').
  expect(sentenceChrf('ab', 'abcdefg').score).toBeCloseTo(26.76056338028169, 12);
});
