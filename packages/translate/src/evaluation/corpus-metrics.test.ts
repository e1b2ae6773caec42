import fc from 'fast-check';
import { expect, test } from 'vitest';
import { corpusBleu } from './bleu.js';
import { corpusChrf } from './chrf.js';
import { BLEU, CHRF, type CorpusMetric } from './corpus-metrics.js';

const summed = (metric: CorpusMetric, hypotheses: string[], references: string[]) => {
  const rows = metric.statistics(hypotheses, references);
  const sum = rows[0].map((_, k) => rows.reduce((a, row) => a + row[k], 0));
  return metric.score(sum);
};

test('BLEU from summed segment statistics is corpusBleu (sacreBLEU test vector: 48.530827)', () => {
  // sacreBLEU's test/test_bleu.py, first reference stream only, recomputed by corpusBleu (tested against sacreBLEU).
  const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const refs = ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'];
  expect(summed(BLEU, hyps, refs)).toBeCloseTo(corpusBleu(hyps, [refs]).score, 10);
  // A segment's vector: 5 hypothesis words "The dog bit the man ." is 6 tokens after 13a, all matching.
  expect(BLEU.statistics([hyps[0]], [refs[0]])[0]).toEqual([6, 5, 4, 3, 6, 5, 4, 3, 6, 6]);
});

const sentence = fc
  .array(fc.constantFrom('a', 'b', 'cat', 'dog', 'sat', '.', ',', 'Über', 'mat', '3.5'), { maxLength: 9 })
  .map((words) => words.join(' '));
const corpus = fc
  .integer({ min: 1, max: 8 })
  .chain((n) =>
    fc.tuple(
      fc.array(sentence, { minLength: n, maxLength: n }),
      fc.array(sentence, { minLength: n, maxLength: n }),
    ),
  );

test('summed statistics give corpusBleu and corpusChrf on any corpus (property)', () => {
  fc.assert(
    fc.property(corpus, ([hyps, refs]) => {
      expect(summed(BLEU, hyps, refs)).toBeCloseTo(corpusBleu(hyps, [refs]).score, 9);
      expect(summed(CHRF, hyps, refs)).toBeCloseTo(corpusChrf(hyps, refs).score, 9);
    }),
    { numRuns: 200 },
  );
});
