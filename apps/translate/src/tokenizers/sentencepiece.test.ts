import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { parseSentencePieceModel, SentencePiece } from './sentencepiece.js';

const folder = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));

/**
 * Characters the nmt_nfkc character map rewrites (compatibility forms, ligatures, full-width and half-width forms,
 * decomposed umlauts, control and zero-width characters, odd spaces) mixed with plain text, CJK and emoji that no
 * piece covers.
 */
const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'äöüßÄÖÜéèçñ .,;:!?-()"\'/',
  ' ',
  '  ',
  '\t',
  '\u00a0',
  '\u3000',
  '\u2009',
  '\u200b',
  '\u00ad',
  '\ufeff',
  '\u0001',
  '\u007f',
  'u\u0308',
  'e\u0301',
  'ﬁ',
  'ﬂ',
  'Ａ',
  'ｚ',
  '１',
  '²',
  '½',
  'Ⅻ',
  '…',
  '—',
  '„',
  '“',
  '«',
  'ｶﾞ',
  'ﻻ',
  '㎏',
  '①',
  'ℌ',
  'Ω',
  'Ж',
  '漢',
  '😀',
  '\u2581',
];

test('the .spm protobuf is read: unigram, nmt_nfkc character map, default whitespace handling', () => {
  const model = parseSentencePieceModel(readFileSync(`${folder}/source.spm`), 'source.spm');
  expect(model.modelType).toBe(1);
  expect(model.pieces).toHaveLength(250);
  expect(model.pieces.slice(0, 3).map((p) => p.piece)).toEqual(['<unk>', '<s>', '</s>']);
  expect(model.normalizerName).toBe('nmt_nfkc');
  expect(model.precompiledCharsmap.length).toBeGreaterThan(100_000);
  expect([model.addDummyPrefix, model.removeExtraWhitespaces, model.escapeWhitespaces]).toEqual([
    true,
    true,
    true,
  ]);
});

test('random text through the model normaliser and unigram segmentation equals Debian spm_encode (fast-check)', () => {
  for (const side of ['source', 'target']) {
    const model = `${folder}/${side}.spm`;
    const spm = new SentencePiece(readFileSync(model), model);
    const sentences = fc.sample(
      fc.array(fc.constantFrom(...ALPHABET), { maxLength: 30 }).map((chars) => chars.join('')),
      { numRuns: 500, seed: side === 'source' ? 11 : 12 },
    );
    const output = execFileSync('spm_encode', [`--model=${model}`, '--output_format=piece'], {
      input: `${sentences.join('\n')}\n`,
      encoding: 'utf8',
    });
    const reference = output.split('\n').slice(0, -1);
    expect(reference).toHaveLength(sentences.length);
    const mismatches = sentences
      .map((sentence, i) => ({ sentence, got: spm.encode(sentence).join(' '), want: reference[i] }))
      .filter(({ got, want }) => got !== want);
    expect(mismatches).toEqual([]);
  }
});

test('models this class does not implement are refused', () => {
  const bytes = readFileSync(`${folder}/source.spm`);
  // Field 2 (trainer_spec) → model_type 2 (BPE): rewrite the varint after its tag 0x18 (field 3, varint).
  const model = parseSentencePieceModel(bytes, 'x');
  expect(model.modelType).toBe(1);
  expect(() => new SentencePiece(new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x61]), 'tiny.spm')).toThrow(
    expect.objectContaining({
      code: 'INVALID_DATA',
      message: expect.stringMatching(/tiny.spm: the SentencePiece model has no unknown piece/),
    }),
  );
  expect(() => new SentencePiece(new Uint8Array([0xff]), 'junk.spm')).toThrow(
    expect.objectContaining({ code: 'INVALID_DATA' }),
  );
});
