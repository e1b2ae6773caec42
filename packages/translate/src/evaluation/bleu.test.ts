import { describe, expect, test } from 'vitest';
import { bleuFromStatistics, corpusBleu, segmentStatistics, tokenize13a } from './bleu.js';

// Expected values: sacreBLEU's own test vectors (test/test_bleu.py).
const refs = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
const EPSILON = 1e-6;

describe('corpusBleu on sacreBLEU vectors', () => {
  test.each([
    [{}, 48.530827],
    [{ tokenize: 'none' as const }, 49.1919566],
    [{ tokenize: '13a' as const }, 48.530827],
    [{ smoothMethod: 'none' as const }, 48.530827],
  ])('options %o → %f', (options, expected) => {
    expect(Math.abs(corpusBleu(hyps, refs, options).score - expected)).toBeLessThan(EPSILON);
  });

  test('empty hypotheses are scored, not removed', () => {
    expect(corpusBleu(['', '', ''], refs).score).toBe(0);
  });

  // sacreBLEU's raw_corpus_bleu: no tokenisation, floor smoothing 0.01, effective order.
  const raw = {
    tokenize: 'none' as const,
    smoothMethod: 'floor' as const,
    smoothValue: 0.01,
    effectiveOrder: true,
  };
  test.each([
    // No n-gram matches: 0 since sacreBLEU 2.0 (#141; 1.x's vector was 0.003799178428257963).
    [['this is a test', 'another test'], ['ref1', 'ref2'], 0],
    [['this is a test'], ['this is a test'], 1.0],
    [['this is a fest'], ['this is a test'], 0.223606797749979],
    [['test'], ['a test'], 0.3678794411714425],
    [['a test'], ['a test'], 1.0],
    [['a little test'], ['a test'], 0.03218297948685433],
  ])('raw %o vs %o → %f', (h, r, expected) => {
    expect(Math.abs(corpusBleu(h, [r], raw).score / 100 - expected)).toBeLessThan(1e-8);
  });

  test('floor offset 0.1 vs 0', () => {
    const h = ['am I am a character sequence'];
    const r = [['I am a symbol string sequence a a']];
    const base = { tokenize: 'none' as const, smoothMethod: 'floor' as const, effectiveOrder: true };
    expect(corpusBleu(h, r, { ...base, smoothValue: 0.1 }).score / 100).toBeCloseTo(0.1555722182, 9);
    expect(corpusBleu(h, r, { ...base, smoothValue: 0 }).score).toBe(0);
  });
});

test('statistics of a segment', () => {
  const stats = segmentStatistics('am I am a character sequence'.split(' '), [
    'I am a symbol string sequence a a'.split(' '),
  ]);
  expect(stats.correct).toEqual([4, 2, 1, 0]);
  expect(stats.total).toEqual([6, 5, 4, 3]);
});

test('score from statistics', () => {
  const { score } = bleuFromStatistics({
    correct: [9, 7, 5, 3],
    total: [10, 8, 6, 4],
    hypothesisLength: 11,
    referenceLength: 11,
  });
  expect(Math.abs(score / 100 - 0.8375922397)).toBeLessThan(1e-8);
});

test('13a splits punctuation but keeps decimals, apostrophes and word hyphens', () => {
  expect(tokenize13a("It wasn't 3.5 km-long, (really)!")).toBe("It wasn't 3.5 km-long , ( really ) !");
  expect(tokenize13a('pages 3-4.')).toBe('pages 3 - 4 .');
});

test('signature names the settings', () => {
  expect(corpusBleu(['a'], [['a']]).signature).toBe(
    'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:el-translate',
  );
});

describe('no n-gram matches', () => {
  // sacreBLEU's compute_bleu returns 0.0 when no n-gram of any order matches (its #141), before smoothing: exp
  // smoothing alone would give these five tokens (precisions 100/10, 100/16, 100/24, 100/32) a score of about 5.4.
  // Expected values from sacreBLEU's source: BLEU().corpus_score(['x y z w v'], [['a b c d e']]) → 0.0, bp 1.0;
  // (['x y'], [['a b c d']]) → 0.0, bp exp(1 − 4/2) = 0.36787944117144233.
  test('a non-empty hypothesis sharing no word with the reference scores exactly 0', () => {
    const score = corpusBleu(['x y z w v'], [['a b c d e']]);
    expect(score.score).toBe(0);
    expect(score.brevityPenalty).toBe(1);
  });

  test('the brevity penalty is still reported, as sacreBLEU reports it', () => {
    const stats = segmentStatistics(['x', 'y'], [['a', 'b', 'c', 'd']]);
    expect(bleuFromStatistics(stats)).toEqual({
      score: 0,
      precisions: [0, 0, 0, 0],
      brevityPenalty: Math.exp(1 - 4 / 2),
    });
    const empty = segmentStatistics([], [['a', 'b']]);
    expect(bleuFromStatistics(empty).brevityPenalty).toBe(0);
  });
});
