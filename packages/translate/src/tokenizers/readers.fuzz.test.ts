/**
 * Fuzz/property tests of the tokenizer readers over mutations of the real fixture (opus-mt-tiny: `source.spm`
 * trained by Debian `spm_train`, `vocab.json`, and the `tokenizer.json` converted from them): SentencePiece
 * protobufs with bytes edited and pieces/fields added (empty, duplicate, unknown-type, wrong-wire-type), JSON
 * files edited as text and as structure. Each case ends in `INVALID_DATA` naming the file or in a tokenizer that
 * works: SentencePiece pieces concatenate to the normalised text, ids decode without an error. A hang fails the
 * test by its timeout; allocation per case is bounded as in the checkpoint fuzz tests (4 MiB + 8 × input bytes).
 *
 * Runs: the `fuzzParameters` counts below in normal runs (fixed seeds); `EL_FUZZ_RUNS=n` (`pnpm fuzz`) runs n of
 * each binary case and n / 10 of the tokenizer.json ones (transformers.js builds a tokenizer per case).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import {
  applyEdits,
  byteEdits,
  bytesOf,
  collectGarbage,
  fuzzParameters,
  outcome,
} from '../../test/checkpoint-builders.js';
import { nodeFolder } from '../node/node-folder.js';
import { convertMarianTokenizer } from './convert-marian.js';
import { loadMarianTokenizer, MARIAN_TOKENIZER_FILES } from './marian.js';
import { SentencePiece } from './sentencepiece.js';
import { loadTokenizerJson } from './tokenizer-json.js';

const folder = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const MiB = 2 ** 20;
const SENTENCES = readFileSync(join(folder, 'test-sentences.en'), 'utf8').split('\n').slice(0, 3);
const texts = fc.oneof(
  fc.constantFrom(...SENTENCES, '', ' ', '  x  y  ', 'ﬁ Ａ ½ \u200b é'),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const scratch = mkdtempSync(join(tmpdir(), 'el-tokenizer-fuzz-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);
let folders = 0;

/** Protobuf encoding of a varint, a field key and a length-delimited field. */
function varint(value: number): Uint8Array {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Uint8Array.from(out);
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const delimited = (field: number, bytes: Uint8Array) => bytesOf(key(field, 2), varint(bytes.length), bytes);

/** Start and end of each top-level field of a protobuf message. */
function topLevelFields(bytes: Uint8Array): { field: number; start: number; end: number }[] {
  const out: { field: number; start: number; end: number }[] = [];
  let pos = 0;
  const read = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return value;
      scale *= 128;
    }
  };
  while (pos < bytes.length) {
    const start = pos;
    const k = read();
    const wire = k % 8;
    if (wire === 0) read();
    else if (wire === 2) pos += read();
    else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    out.push({ field: Math.floor(k / 8), start, end: pos });
  }
  return out;
}

/** A working SentencePiece model: every piece sequence concatenates to the normalised text. */
function checkSentencePiece(spm: SentencePiece, samples: string[]): void {
  for (const text of samples) {
    const normalized = spm.normalize(text);
    expect(spm.encode(text).join('')).toBe(normalized);
  }
}

describe('SentencePiece models', () => {
  const original = new Uint8Array(readFileSync(join(folder, 'source.spm')));
  const fields = topLevelFields(original);
  const pieces = fields.filter((f) => f.field === 1);
  const piecesEnd = pieces[pieces.length - 1].end;
  const specs = fields
    .filter((f) => f.field !== 1)
    .map((f) => [f.start, Math.min(f.end, f.start + 64)] as [number, number]);

  test('the issue 21 reproduction: a user-defined piece with empty text is refused, as spm refuses it', () => {
    // printf '\x0a\x02\x18\x04' >> source.spm: SentencePiece's own loader says "piece must not be empty".
    const bytes = bytesOf(original, Uint8Array.of(0x0a, 0x02, 0x18, 0x04));
    expect(() => new SentencePiece(bytes, 'source.spm').encode('Hello world')).toThrow(
      expect.objectContaining({
        code: 'INVALID_DATA',
        message: expect.stringMatching(/source.spm: piece 250 is empty/),
      }),
    );
  });

  test('byte edits (pieces, spec headers): INVALID_DATA or a model whose pieces rebuild the text', () => {
    let cases = 0;
    fc.assert(
      fc.property(
        byteEdits(original.length, [[0, piecesEnd], ...specs]),
        fc.array(texts, { maxLength: 3 }),
        (edits, samples) => {
          if (++cases % 40 === 0) collectGarbage();
          const bytes = applyEdits(original, edits);
          const result = outcome(
            'source.spm',
            () => new SentencePiece(bytes, 'source.spm'),
            4 * MiB + 8 * bytes.length,
          );
          if (result.ok) checkSentencePiece(result.value, samples);
        },
      ),
      fuzzParameters(150, 11),
    );
  });

  test('pieces added or replaced (empty, duplicate, any type, bad UTF-8, wrong wire types) and spec fields appended', () => {
    const pieceText = fc.oneof(
      { arbitrary: fc.constant(''), weight: 2 },
      fc.constantFrom('▁', 'a', '▁the', '<unk>', '</s>', ' ', '\u0000'),
      fc.string({ maxLength: 6 }),
      fc.uint8Array({ maxLength: 6 }),
    );
    // Types 1–6 (NORMAL … BYTE) mostly, USER_DEFINED (4) often: an empty user-defined piece is what hung spm here.
    const piece = fc.record({
      text: fc.option(pieceText, { freq: 8 }),
      score: fc.option(fc.oneof(fc.float(), fc.constantFrom(Number.NaN, -Infinity, 0))),
      type: fc.option(
        fc.oneof({ arbitrary: fc.constant(4), weight: 2 }, fc.integer({ min: 0, max: 8 }), fc.nat()),
        { freq: 6 },
      ),
      textAsVarint: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, fc.constant(true)),
    });
    const encodePiece = (p: typeof piece extends fc.Arbitrary<infer T> ? T : never) => {
      const parts: Uint8Array[] = [];
      if (p.text !== null) {
        parts.push(
          p.textAsVarint
            ? bytesOf(key(1, 0), varint(7))
            : delimited(1, typeof p.text === 'string' ? new TextEncoder().encode(p.text) : p.text),
        );
      }
      if (p.score !== null) {
        const score = new Uint8Array(4);
        new DataView(score.buffer).setFloat32(0, p.score, true);
        parts.push(bytesOf(key(2, 5), score));
      }
      if (p.type !== null) parts.push(bytesOf(key(3, 0), varint(p.type)));
      return delimited(1, bytesOf(...parts));
    };
    const specField = fc.record({
      spec: fc.constantFrom(2, 3, 5),
      field: fc.constantFrom(1, 2, 3, 4, 5, 24, 35),
      value: fc.oneof(fc.nat(8), fc.uint8Array({ maxLength: 12 })),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(piece, fc.nat(pieces.length)), { maxLength: 3 }),
        fc.option(specField),
        fc.array(texts, { minLength: 1, maxLength: 3 }),
        (added, spec, samples) => {
          // Insert each new piece before the piece at the chosen index (a replacement when it has the same text).
          const cuts = added.map(([p, at]) => ({
            at: at < pieces.length ? pieces[at].start : piecesEnd,
            bytes: encodePiece(p),
          }));
          cuts.sort((a, b) => a.at - b.at);
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const cut of cuts) {
            chunks.push(original.subarray(from, cut.at), cut.bytes);
            from = cut.at;
          }
          chunks.push(original.subarray(from));
          if (spec) {
            const value =
              typeof spec.value === 'number'
                ? bytesOf(key(spec.field, 0), varint(spec.value))
                : delimited(spec.field, spec.value);
            chunks.push(delimited(spec.spec, value));
          }
          const bytes = bytesOf(...chunks);
          const result = outcome(
            'source.spm',
            () => new SentencePiece(bytes, 'source.spm'),
            4 * MiB + 8 * bytes.length,
          );
          if (result.ok) checkSentencePiece(result.value, samples);
        },
      ),
      fuzzParameters(150, 12),
    );
  });
});

/**
 * A fresh folder holding the fixture's Marian tokenizer files (symbolic links) with `files` written over some of
 * them (`null` leaves a file out); `use` runs on it and the folder is removed afterwards.
 */
async function withTokenizerFolder<T>(
  files: Record<string, string | Uint8Array | null>,
  use: (dir: string) => T | Promise<T>,
): Promise<T> {
  const dir = join(scratch, `case-${folders++}`);
  mkdirSync(dir);
  try {
    for (const file of MARIAN_TOKENIZER_FILES) {
      if (!(file in files)) symlinkSync(join(folder, file), join(dir, file));
    }
    for (const [name, content] of Object.entries(files))
      if (content !== null) writeFileSync(join(dir, name), content);
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replaces the value at a random path of a JSON value (a structural mutation). */
function mutateJson(value: unknown, path: number[], replacement: unknown, remove: boolean): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value)
    ? [...value]
    : { ...(value as object) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return replacement;
  const k = keys[path[0] % keys.length];
  if (path.length === 1 && remove) {
    if (Array.isArray(copy)) copy.splice(Number(k), 1);
    else delete copy[k];
    return copy;
  }
  (copy as Record<string, unknown>)[k] = mutateJson(
    (copy as Record<string, unknown>)[k],
    path.slice(1),
    replacement,
    remove,
  );
  return copy;
}

const hostileJson = fc.oneof(
  fc.constantFrom(
    null,
    -1,
    0,
    1.5,
    1e9,
    2 ** 53,
    '',
    'x',
    '<unk>',
    true,
    [],
    {},
    [[]],
    ['a', 'b'],
    [['a', 'x']],
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
const jsonMutation = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  value: hostileJson,
  remove: fc.boolean(),
});

describe('Marian tokenizer folders (vocab.json, tokenizer_config.json, special_tokens_map.json)', () => {
  test('JSON edited as text or as structure: INVALID_DATA naming the file, or a tokenizer that encodes and decodes', async () => {
    let loaded = 0;
    const files = ['vocab.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
    const originals = Object.fromEntries(files.map((f) => [f, readFileSync(join(folder, f), 'utf8')]));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        fc.oneof(
          fc.record({ kind: fc.constant('text' as const), edits: byteEdits(6000, [], 3) }),
          fc.record({
            kind: fc.constant('json' as const),
            mutations: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
          }),
        ),
        texts,
        async (file, mutation, text) => {
          let content: string | Uint8Array;
          if (mutation.kind === 'text')
            content = applyEdits(new TextEncoder().encode(originals[file]), mutation.edits);
          else {
            let json: unknown = JSON.parse(originals[file]);
            for (const m of mutation.mutations) json = mutateJson(json, m.path, m.value, m.remove);
            content = JSON.stringify(json) ?? 'undefined';
          }
          await withTokenizerFolder({ [file]: content }, (dir) => {
            const result = outcome(dir, () => loadMarianTokenizer(nodeFolder(dir)));
            if (result.ok) {
              loaded++;
              const ids = result.value.encodeSource(text);
              expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < result.value.vocabSize)).toBe(
                true,
              );
              expect(typeof result.value.decode(ids)).toBe('string');
            }
          });
        },
      ),
      fuzzParameters(60, 13, 5),
    );
    expect(loaded).toBeGreaterThan(0);
  });
});

describe('tokenizer.json', () => {
  const converted = convertMarianTokenizer(nodeFolder(folder));
  const originalText = JSON.stringify(converted.tokenizerJson);
  const config = JSON.stringify(converted.tokenizerConfig);
  // Without source.spm and vocab.json the folder is a tokenizer.json folder.
  const noSentencePiece = Object.fromEntries(MARIAN_TOKENIZER_FILES.map((file) => [file, null]));

  test('the converted tokenizer.json loads and round-trips (the baseline the mutations start from)', async () => {
    const files = { ...noSentencePiece, 'tokenizer.json': originalText, 'tokenizer_config.json': config };
    const tokenizer = await withTokenizerFolder(files, (dir) => loadTokenizerJson(nodeFolder(dir)));
    expect(tokenizer.decode(tokenizer.encode(SENTENCES[0]))).toBe(SENTENCES[0]);
  });

  test('mutated as text or as structure: INVALID_DATA naming the file, or a tokenizer that encodes and decodes', async () => {
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({
            kind: fc.constant('text' as const),
            edits: byteEdits(originalText.length, [[0, 3000]], 3),
          }),
          fc.record({
            kind: fc.constant('json' as const),
            mutations: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }),
          }),
        ),
        texts,
        async (mutation, text) => {
          let content: string | Uint8Array;
          if (mutation.kind === 'text')
            content = applyEdits(new TextEncoder().encode(originalText), mutation.edits);
          else {
            let json: unknown = converted.tokenizerJson;
            for (const m of mutation.mutations) json = mutateJson(json, m.path, m.value, m.remove);
            content = JSON.stringify(json) ?? 'undefined';
          }
          const files = { ...noSentencePiece, 'tokenizer.json': content, 'tokenizer_config.json': config };
          await withTokenizerFolder(files, async (dir) => {
            let tokenizer: Awaited<ReturnType<typeof loadTokenizerJson>>;
            try {
              tokenizer = await loadTokenizerJson(nodeFolder(dir));
            } catch (error) {
              expect(error).toMatchObject({ code: 'INVALID_DATA', message: expect.stringContaining(dir) });
              return;
            }
            loaded++;
            const after = outcome(dir, () => tokenizer.decode(tokenizer.encode(text)));
            if (after.ok) expect(typeof after.value).toBe('string');
          });
        },
      ),
      fuzzParameters(40, 14, 10),
    );
    // Some mutations leave a loadable tokenizer (an unused field changed): the success path is exercised too.
    expect(loaded).toBeGreaterThan(0);
  });
});
