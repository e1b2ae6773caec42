import { execFileSync, spawnSync } from 'node:child_process';
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

/** A serialized `ModelProto.SentencePiece` (top-level field 1): text, optional type. */
function pieceMessage(text: string, type?: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const body = [0x0a, bytes.length, ...bytes, ...(type === undefined ? [] : [0x18, type])];
  return new Uint8Array([0x0a, body.length, ...body]);
}

const hasPythonSentencePiece =
  spawnSync('/usr/bin/python3', ['-c', 'import sentencepiece'], { stdio: 'ignore' }).status === 0;

test.skipIf(!hasPythonSentencePiece)(
  'pieces appended to the model are refused or read exactly as SentencePiece itself (python3-sentencepiece) does',
  () => {
    const base = readFileSync(`${folder}/source.spm`);
    const cases: Record<string, Uint8Array> = {
      // The issue 21 reproduction, printf '\x0a\x02\x18\x04' >> source.spm: an empty user-defined piece.
      'empty user-defined': new Uint8Array([0x0a, 0x02, 0x18, 0x04]),
      'empty normal': pieceMessage(''),
      duplicate: pieceMessage('\u2581the'),
      'duplicate user-defined': pieceMessage('\u2581the', 4),
      'duplicate unused': pieceMessage('\u2581the', 5),
      'duplicate control': pieceMessage('</s>', 3),
      'second unknown': pieceMessage('<unk2>', 2),
      'unknown type 9 (read as normal)': pieceMessage('zq', 9),
      'new user-defined': pieceMessage('zq', 4),
    };
    const sentence = 'the zq house';
    const script = [
      'import base64, json, sys, sentencepiece as spm',
      'out = {}',
      'for name, b64 in json.load(sys.stdin).items():',
      '    try:',
      '        s = spm.SentencePieceProcessor(model_proto=base64.b64decode(b64))',
      `        out[name] = s.encode(${JSON.stringify(sentence)}, out_type=str)`,
      '    except Exception as e:',
      '        out[name] = str(e)',
      'print(json.dumps(out))',
    ].join('\n');
    const input = Object.fromEntries(
      Object.entries(cases).map(([name, tail]) => [name, Buffer.concat([base, tail]).toString('base64')]),
    );
    const reference = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' }),
    ) as Record<string, string[] | string>;
    for (const [name, tail] of Object.entries(cases)) {
      const want = reference[name];
      const read = () => new SentencePiece(Buffer.concat([base, tail]), 'x.spm').encode(sentence);
      if (typeof want === 'string') {
        // spm: "piece must not be empty", "… is already defined", "unk is already defined".
        expect(want, name).toMatch(/must not be empty|is already defined/);
        expect(read, name).toThrow(
          expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(/^x.spm: /) }),
        );
      } else expect(read(), name).toEqual(want);
    }
  },
);
