import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { nodeFolder } from '../node/node-folder.js';
import { loadMarianTokenizer } from './marian.js';
import { SentencePiece } from './sentencepiece.js';

const folder = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const lines = (file: string) => readFileSync(`${folder}/${file}`, 'utf8').split('\n').slice(0, -1);
const vocab = JSON.parse(readFileSync(`${folder}/vocab.json`, 'utf8')) as Record<string, number>;
/** Ids as HF MarianTokenizer builds them from spm pieces: vocab.json, `<unk>` for a missing piece, `</s>`. */
const idsOf = (pieces: string) => [
  ...pieces
    .split(' ')
    .filter(Boolean)
    .map((p) => vocab[p] ?? vocab['<unk>']),
  vocab['</s>'],
];

test.each([
  ['source', 'en'],
  ['target', 'de'],
] as const)('%s ids equal Debian spm_encode + vocab.json, sentence for sentence', (side, language) => {
  const tokenizer = loadMarianTokenizer(nodeFolder(folder));
  const sentences = lines(`test-sentences.${language}`);
  const reference = lines(`test-sentences.${language}.pieces`);
  expect(sentences.length).toBe(405);
  expect(reference.length).toBe(sentences.length);
  let agree = 0;
  const mismatches: string[] = [];
  sentences.forEach((sentence, i) => {
    const ids = side === 'source' ? tokenizer.encodeSource(sentence) : tokenizer.encodeTarget(sentence);
    if (JSON.stringify(ids) === JSON.stringify(idsOf(reference[i]))) agree++;
    else
      mismatches.push(
        `${i}: ${JSON.stringify(sentence)} → ${(side === 'source' ? tokenizer.sourcePieces : tokenizer.targetPieces)(sentence).join(' ')} vs ${reference[i]}`,
      );
  });
  expect(mismatches).toEqual([]);
  expect(agree).toBe(405);
});

test('special ids, <unk> for a piece vocab.json lacks, and decoding as MarianTokenizer', () => {
  const tokenizer = loadMarianTokenizer(nodeFolder(folder));
  expect([tokenizer.eosId, tokenizer.unkId, tokenizer.padId]).toEqual([0, 1, tokenizer.vocabSize - 1]);
  expect(tokenizer.vocabSize).toBe(Object.keys(vocab).length);
  // The fixture's vocab.json leaves out the source piece "q" on purpose.
  const dropped = readFileSync(`${folder}/dropped-piece.txt`, 'utf8').trim();
  expect(tokenizer.sourcePieces('Iraq')).toContain(dropped);
  expect(tokenizer.encodeSource('Iraq')).toContain(tokenizer.unkId);
  // Decoding drops </s>, <pad>, <unk> and joins the pieces with ▁ as spaces.
  const ids = tokenizer.encodeTarget('Das Büro ist geschlossen.');
  expect(tokenizer.decode([tokenizer.padId, ...ids, tokenizer.padId])).toBe('Das Büro ist geschlossen.');
  expect(tokenizer.decode([])).toBe('');
});

test('target-language token of multilingual models: --target-token or a leading >>xxx<< in the text', () => {
  const plain = loadMarianTokenizer(nodeFolder(folder));
  const multi = loadMarianTokenizer(nodeFolder(folder), { targetToken: '>>nld<<' });
  const text = 'the moment of parting';
  expect(multi.encodeSource(text)).toEqual([vocab['>>nld<<'], ...plain.encodeSource(text)]);
  expect(plain.encodeSource(`>>nld<< ${text}`)).toEqual(multi.encodeSource(text));
  expect(() => loadMarianTokenizer(nodeFolder(folder), { targetToken: '>>fra<<' })).toThrow(
    expect.objectContaining({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/--target-token >>fra<< is not a language token.*>>deu<<, >>nld<</),
    }),
  );
});

test('pieces concatenate to the normalised text; decoding known pieces gives it back (fast-check)', () => {
  const tokenizer = loadMarianTokenizer(nodeFolder(folder));
  const spm = new SentencePiece(readFileSync(`${folder}/target.spm`), 'target.spm');
  const text = fc.string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzäöüßABCÄÖÜ .,!?-\t\u00a0\u3000ﬁＡ1'.split('')),
    maxLength: 40,
  });
  fc.assert(
    fc.property(text, (sentence) => {
      const pieces = spm.encode(sentence);
      expect(pieces.join('')).toBe(spm.normalize(sentence));
      const ids = tokenizer.encodeTarget(sentence);
      if (!ids.includes(tokenizer.unkId)) {
        expect(tokenizer.decode(ids)).toBe(spm.normalize(sentence).replaceAll('\u2581', ' ').trim());
      }
    }),
    { numRuns: 300, seed: 3 },
  );
});
