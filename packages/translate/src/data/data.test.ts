import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEncouragingLossError } from '@encouraging-loss/core';
import { describe, expect, test } from 'vitest';
import { readParallelData } from '../node/data-files.js';
import {
  decodeText,
  formatOfName,
  formatTsv,
  parallelFiles,
  parseParallelFiles,
  parseParallelText,
} from './data.js';

const dir = mkdtempSync(join(tmpdir(), 'el-data-'));
const options = { sourceLanguage: 'en', targetLanguage: 'de' };
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
/** The error `fn` throws; data-file errors carry core's `INVALID_DATA` code. */
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(isEncouragingLossError(error) && error.code).toBe('INVALID_DATA');
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('TSV', () => {
  test('good lines, trailing newline, CRLF', () => {
    const path = file('good.tsv', 'The dog.\tDer Hund.\r\nA cat.\tEine Katze.\n');
    expect(readParallelData(path, options)).toEqual({
      pairs: [
        { source: 'The dog.', target: 'Der Hund.' },
        { source: 'A cat.', target: 'Eine Katze.' },
      ],
      skipped: 0,
      problems: [],
    });
  });

  test('a line without a tab names file:line', () => {
    const path = file('bad.tsv', 'a\tb\nno tab here\nc\td\n');
    const error = errorOf(() => readParallelData(path, options));
    expect(error.message).toContain(`${path}:2: expected source<TAB>target (2 fields), got 1`);
  });

  test('--skip-bad-lines skips and counts', () => {
    const path = file('bad2.tsv', 'a\tb\nno tab\n\t\nc\td\ne\tf\tg\n');
    const result = readParallelData(path, { ...options, skipBadLines: true });
    expect(result.pairs.map((p) => p.source)).toEqual(['a', 'c']);
    expect(result.skipped).toBe(3);
    expect(result.problems[1]).toBe(`${path}:3: empty source or target`);
  });

  test('formatTsv round trip', () => {
    const pairs = [{ source: 'x\ty', target: 'z' }];
    expect(readParallelData(file('rt.tsv', formatTsv(pairs)), options).pairs).toEqual([
      { source: 'x y', target: 'z' },
    ]);
  });
});

describe('HF JSON Lines', () => {
  test('good lines', () => {
    const path = file(
      'good.jsonl',
      `${JSON.stringify({ translation: { en: 'Hello.', de: 'Hallo.' } })}\n${JSON.stringify({ id: 1, translation: { de: 'Ja.', en: 'Yes.' } })}\n`,
    );
    expect(readParallelData(path, options).pairs).toEqual([
      { source: 'Hello.', target: 'Hallo.' },
      { source: 'Yes.', target: 'Ja.' },
    ]);
  });

  test.each([
    ['{not json', 'invalid JSON'],
    ['{"en": "a", "de": "b"}', 'expected {"translation": {...}}'],
    ['{"translation": {"en": "a", "fr": "b"}}', 'translation.en and translation.de'],
    ['{"translation": {"en": "a", "de": 3}}', 'translation.en and translation.de'],
  ])('bad line %s', (line, reason) => {
    const path = file('bad.jsonl', `{"translation": {"en": "a", "de": "b"}}\n${line}\n`);
    expect(errorOf(() => readParallelData(path, options)).message).toContain(`${path}:2: `);
    expect(errorOf(() => readParallelData(path, options)).message).toContain(reason);
    expect(readParallelData(path, { ...options, skipBadLines: true }).skipped).toBe(1);
  });
});

describe('parallel text', () => {
  test('PREFIX, PREFIX.en or PREFIX.de all read the pair of files', () => {
    file('corpus.en', 'one\ntwo\n');
    file('corpus.de', 'eins\nzwei\n');
    const expected = [
      { source: 'one', target: 'eins' },
      { source: 'two', target: 'zwei' },
    ];
    for (const name of ['corpus', 'corpus.en', 'corpus.de']) {
      expect(readParallelData(join(dir, name), options).pairs).toEqual(expected);
    }
  });

  test('different lengths and empty lines', () => {
    file('short.en', 'one\ntwo\n');
    file('short.de', 'eins\n');
    expect(errorOf(() => readParallelData(join(dir, 'short.en'), options)).message).toContain(
      'differ in length',
    );
    file('gap.en', 'one\n\nthree\n');
    file('gap.de', 'eins\nzwei\ndrei\n');
    expect(errorOf(() => readParallelData(join(dir, 'gap.en'), options)).message).toContain(
      `${join(dir, 'gap.en')}:2: empty source line`,
    );
    expect(readParallelData(join(dir, 'gap'), { ...options, skipBadLines: true }).pairs).toHaveLength(2);
  });
});

test('unknown format and missing file', () => {
  expect(errorOf(() => readParallelData(join(dir, 'x.csv'), options)).message).toContain(
    'Cannot tell the format',
  );
  expect(errorOf(() => readParallelData(join(dir, 'missing.tsv'), options)).message).toContain(
    'does not exist',
  );
});

describe('parsing text without a file system (browsers)', () => {
  test('parseParallelText picks TSV or JSON Lines by the name, or as told', () => {
    const tsv = parseParallelText('a\tb\n\nc\td\n', 'upload.tsv', { ...options, skipBadLines: true });
    expect(tsv).toMatchObject({
      pairs: [
        { source: 'a', target: 'b' },
        { source: 'c', target: 'd' },
      ],
      skipped: 1,
    });
    expect(tsv.problems[0]).toMatch(/^upload.tsv:2: /);
    const jsonl = '{"translation": {"en": "a", "de": "b"}}\n';
    expect(parseParallelText(jsonl, 'pasted', { ...options, format: 'jsonl' }).pairs).toEqual([
      { source: 'a', target: 'b' },
    ]);
    expect(errorOf(() => parseParallelText(jsonl, 'pasted', options)).message).toContain(
      'Cannot tell the format of pasted',
    );
  });

  test('parseParallelFiles pairs lines and names each file', () => {
    const source = { text: 'one\ntwo\n', file: 'x.en' };
    expect(parseParallelFiles(source, { text: 'eins\nzwei\n', file: 'x.de' }, options).pairs).toEqual([
      { source: 'one', target: 'eins' },
      { source: 'two', target: 'zwei' },
    ]);
    expect(errorOf(() => parseParallelFiles(source, { text: 'eins\n', file: 'x.de' }, options)).message).toBe(
      'Parallel files differ in length: x.en has 2 lines, x.de has 1.',
    );
    expect(formatOfName('a/b.JSONL', options)).toBe('jsonl');
    expect(formatOfName('corpus.de', options)).toBe('parallel');
    expect(formatOfName('corpus', options)).toBeUndefined();
    expect(parallelFiles('corpus.de', options)).toEqual({ source: 'corpus.en', target: 'corpus.de' });
    expect(errorOf(() => decodeText(new Uint8Array([0xff]), 'x.tsv', 'Data file')).message).toBe(
      'Data file x.tsv is not UTF-8 text.',
    );
  });
});
