import { Rng } from '@encouraging-loss/translate';
import { describe, expect, test } from 'vitest';
import { GENERAL, generateCorpus, generatePair, IN_DOMAIN } from './demo-data.js';

function words(lexicon: typeof GENERAL): Set<string> {
  return new Set([
    ...lexicon.nouns.flatMap((n) => [n.de, n.dePlural]),
    ...lexicon.verbs.flatMap((v) => [v.de3, v.dePlural]),
    ...lexicon.adjectives.map((a) => a.de),
  ]);
}

describe('demo data', () => {
  test('is reproducible from the seed and distinct', () => {
    const a = generateCorpus({ seed: 7, size: 300, lexicon: GENERAL });
    const b = generateCorpus({ seed: 7, size: 300, lexicon: GENERAL });
    expect(a).toEqual(b);
    expect(new Set(a.map((p) => p.source)).size).toBe(300);
    expect(generateCorpus({ seed: 8, size: 300, lexicon: GENERAL })).not.toEqual(a);
  });

  test('excluded sources never appear', () => {
    const test_ = generateCorpus({ seed: 1, size: 100, lexicon: IN_DOMAIN });
    const exclude = new Set(test_.map((p) => p.source));
    const train = generateCorpus({ seed: 2, size: 500, lexicon: IN_DOMAIN, exclude });
    expect(train.some((p) => exclude.has(p.source))).toBe(false);
  });

  test('in-domain content words are disjoint from the general ones', () => {
    const general = words(GENERAL);
    expect([...words(IN_DOMAIN)].filter((w) => general.has(w))).toEqual([]);
  });

  test('German grammar: case, gender, plural, verb-final subordinate clauses', () => {
    const rng = new Rng(3);
    const pairs = Array.from({ length: 20000 }, () => generatePair(rng, GENERAL));
    const find = (pattern: RegExp) => pairs.find((p) => pattern.test(p.source));
    // Masculine accusative object after a transitive verb: "den".
    expect(find(/^The \w+ \w+ the dog\.$/)?.target).toMatch(/^D\S+ \S+ \S+ den Hund\.$/);
    // Weak masculine accusative.
    expect(find(/^The \w+ \w+ the boy\.$/)?.target).toMatch(/ den Jungen\.$/);
    // Plural subject takes the plural verb.
    expect(find(/^The dogs (see|find) /)?.target).toMatch(/^Die Hunde (sehen|finden) /);
    // Subordinate clause: verb last.
    const lead = find(/^I know that the (man|woman) \S+s [^.]+\.$/);
    expect(lead?.target).toMatch(/^Ich weiß, dass (der Mann|die Frau) [^.]+ \S+t\.$/);
    // Fronted adverb: V2 inversion.
    expect(find(/^Today the cat \S+s /)?.target).toMatch(/^Heute \S+t die Katze /);
    // Mixed adjective declension after "ein".
    expect(find(/^A big (dog|man) /)?.target).toMatch(/^Ein großer (Hund|Mann) /);
  });
});
