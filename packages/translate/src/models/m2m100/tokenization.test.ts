import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EncouragingLossError } from '@encouraging-loss/core';
import { describe, expect, test } from 'vitest';
import { nodeFolder } from '../../node/node-folder.js';
import { NLLB_LANGUAGE_CODES } from './language-codes.js';
import { SentencePieceBpe } from './sentencepiece-bpe.js';
import { loadM2M100FamilyTokenizer, loadM2M100Tokenizer, loadNllbTokenizer } from './tokenization.js';

/*
 * Golden ids: fixtures/<name>/tokenizer-reference.json, computed by scripts/make-m2m100-fixtures.py with
 * python3-sentencepiece (the BPE segmentation) and each HF tokenizer's id rules (NLLB: spm id + 1, 0 → <unk> 3,
 * language codes after the spm vocabulary; M2M100: vocab.json, __xx__ after it).
 */

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

interface TokenizerReference {
  src_lang: string;
  tgt_lang: string;
  vocab_size: number;
  english: string[];
  source_ids: number[][];
  german: string[];
  target_ids: number[][];
}

const readReference = (name: string): TokenizerReference =>
  JSON.parse(readFileSync(join(fixtures, name, 'tokenizer-reference.json'), 'utf8'));

describe.each(['nllb-200-tiny', 'm2m100-tiny'])('%s tokenizer', (name) => {
  const reference = readReference(name);
  const dir = join(fixtures, name);
  const tokenizer = loadM2M100FamilyTokenizer(nodeFolder(dir), {
    srcLang: reference.src_lang,
    tgtLang: reference.tgt_lang,
  });

  test(`source and label ids equal the reference for ${reference.english.length} + ${reference.german.length} sentences`, () => {
    expect(tokenizer.family).toBe(name.startsWith('nllb') ? 'nllb' : 'm2m100');
    expect(tokenizer.vocabSize).toBe(reference.vocab_size);
    expect(reference.english.map((text) => tokenizer.encodeSource(text))).toEqual(reference.source_ids);
    expect(reference.german.map((text) => tokenizer.encodeTarget(text))).toEqual(reference.target_ids);
    // The reference exercises <unk> (an emoji no piece covers).
    expect(reference.source_ids.flat()).toContain(3);
  });

  test('special ids are fairseq’s and generation forces the target language', () => {
    expect([tokenizer.padId, tokenizer.eosId, tokenizer.unkId]).toEqual([1, 2, 3]);
    expect(tokenizer.forcedBosTokenId).toBe(reference.target_ids[0][0]);
    expect(tokenizer.encodeSource('')).toEqual([reference.source_ids[0][0], 2]);
  });

  test('decode drops special tokens and language codes, and restores the spaces', () => {
    const ids = tokenizer.encodeTarget('der Aachener Dom');
    expect(tokenizer.decode([2, ...ids, 1])).toBe('der Aachener Dom');
  });

  test('an unknown language code is INVALID_OPTION naming the valid codes', () => {
    const attempt = () =>
      loadM2M100FamilyTokenizer(nodeFolder(dir), { srcLang: reference.src_lang, tgtLang: 'xx_Fake' });
    expect(attempt).toThrow(EncouragingLossError);
    expect(attempt).toThrow(/xx_Fake is not a language code .*valid codes: .*deu?_?/);
    try {
      attempt();
    } catch (error) {
      expect((error as EncouragingLossError).code).toBe('INVALID_OPTION');
    }
  });
});

test('NLLB ids: codes after the spm vocabulary in FAIRSEQ order, <mask> last; legacy mode puts the code last', () => {
  const dir = join(fixtures, 'nllb-200-tiny');
  const tokenizer = loadNllbTokenizer(nodeFolder(dir), { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' });
  const spmSize = 400;
  expect(tokenizer.languageId('ace_Arab')).toBe(spmSize + 1);
  expect(tokenizer.languageId('eng_Latn')).toBe(spmSize + 1 + NLLB_LANGUAGE_CODES.indexOf('eng_Latn'));
  expect(tokenizer.tokenId?.('<mask>')).toBe(spmSize + 1 + 202);
  expect(tokenizer.vocabSize).toBe(spmSize + 1 + 202 + 1);
  const ids = tokenizer.encodeSource('the office');
  expect(ids[0]).toBe(tokenizer.languageId('eng_Latn'));
  expect(ids.at(-1)).toBe(2);
});

test('M2M100 codes are accepted as en or __en__ and follow vocab.json', () => {
  const dir = join(fixtures, 'm2m100-tiny');
  const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8'));
  const size = Object.keys(vocab).length;
  const a = loadM2M100Tokenizer(nodeFolder(dir), { srcLang: 'en', tgtLang: 'de' });
  const b = loadM2M100Tokenizer(nodeFolder(dir), { srcLang: '__en__', tgtLang: '__de__' });
  expect(a.encodeSource('the office')).toEqual(b.encodeSource('the office'));
  expect(a.languageId('af')).toBe(size);
  expect(a.vocabSize).toBe(size + 100 + 8);
  // The piece left out of vocab.json maps to <unk>.
  const dropped = readFileSync(join(dir, 'dropped-piece.txt'), 'utf8').trim();
  const spm = new SentencePieceBpe(readFileSync(join(dir, 'sentencepiece.bpe.model')), 'spm');
  expect(spm.pieceId(dropped)).not.toBe(spm.model.unkId);
  expect(a.tokenId?.(dropped)).toBeUndefined();
});

test('SentencePieceBpe refuses a unigram model', () => {
  const unigram = readFileSync(join(fixtures, 'opus-mt-tiny', 'source.spm'));
  expect(() => new SentencePieceBpe(unigram, 'source.spm')).toThrow(/not a BPE SentencePiece model/);
});

test('the NLLB fixture’s tokenizer.json gives the reference ids in transformers.js (NllbTokenizerFast layout)', async () => {
  const reference = readReference('nllb-200-tiny');
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = fixtures;
  const fast = await AutoTokenizer.from_pretrained('nllb-200-tiny', { local_files_only: true });
  // transformers.js approximates the Precompiled normaliser with NFKC: the hand-written normaliser cases (the last
  // five) are left to the SentencePiece reference above.
  const plain = reference.english.length - 5;
  const ids = reference.english.slice(0, plain).map((text) => Array.from(fast.encode(text) as number[]));
  expect(ids).toEqual(reference.source_ids.slice(0, plain));
  // The translation pipeline's inputs: the forced first token is the target language's id.
  const kwargs: Record<string, unknown> = { src_lang: 'eng_Latn', tgt_lang: 'deu_Latn' };
  (fast as unknown as { _build_translation_inputs: (...a: unknown[]) => unknown })._build_translation_inputs(
    [reference.english[0]],
    {},
    kwargs,
  );
  expect(kwargs.forced_bos_token_id).toBe(reference.target_ids[0][0]);
});
