import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { fileWriter, writeFileAtomic } from './atomic.js';
import { fileReader, readWholeFile } from './read-file.js';

const dir = mkdtempSync(join(tmpdir(), 'el-atomic-'));
afterEach(() => {
  vi.restoreAllMocks();
  fileWriter.maxChunk = 2 ** 30;
});

test('asks no write for more than maxChunk bytes (fs.writeSync refuses 2³¹ or more), and writes every byte', () => {
  // Real files over 2 GiB are too big for a test: the limit is lowered instead (the default is 2³⁰).
  expect(fileWriter.maxChunk).toBeLessThan(2 ** 31);
  fileWriter.maxChunk = 7;
  const lengths: number[] = [];
  const write = fileWriter.write;
  vi.spyOn(fileWriter, 'write').mockImplementation((fd, bytes, offset, length) => {
    lengths.push(length);
    return write(fd, bytes, offset, length);
  });
  const data = Uint8Array.from({ length: 20 }, (_, i) => 3 * i + 1);
  const path = join(dir, 'chunked.bin');
  writeFileAtomic(path, data);
  expect(lengths).toEqual([7, 7, 6]);
  expect(new Uint8Array(readFileSync(path))).toEqual(data);
  rmSync(path);
});

test('readWholeFile reads a file in pieces of at most maxChunk bytes (readFileSync refuses 2 GiB), whole', () => {
  const data = Uint8Array.from({ length: 23 }, (_, i) => 5 * i + 2);
  const path = join(dir, 'pieces.bin');
  writeFileAtomic(path, data);
  fileReader.maxChunk = 4;
  try {
    expect(new Uint8Array(readWholeFile(path))).toEqual(data);
  } finally {
    fileReader.maxChunk = 2 ** 30;
  }
  expect(() => readWholeFile(join(dir, 'missing.bin'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  rmSync(path);
});
