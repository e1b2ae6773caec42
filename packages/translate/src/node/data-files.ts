import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  type DataFormat,
  decodeText,
  formatOfName,
  parallelFiles,
  parseJson,
  parseParallelFiles,
  parseParallelText,
  type ReadOptions,
  type ReadResult,
} from '../data/data.js';
import { describeSystemError, invalidData } from '../errors.js';

/**
 * Which reader a path needs: `.tsv` → TSV, `.jsonl`/`.json` → HF JSON Lines, `PREFIX.<src>` / `PREFIX.<tgt>` or a
 * bare `PREFIX` whose two language files exist → parallel text.
 */
export function detectFormat(file: string, options: ReadOptions): DataFormat {
  if (existsSync(file) && statSync(file).isDirectory())
    invalidData(`Data file ${file} is a folder; expected a file.`);
  const format = formatOfName(file, options);
  if (format) return format;
  if (existsSync(`${file}.${options.sourceLanguage}`) && existsSync(`${file}.${options.targetLanguage}`)) {
    return 'parallel';
  }
  return invalidData(
    `Cannot tell the format of ${file}: expected .tsv, .jsonl, or parallel files ${file}.${options.sourceLanguage} + ${file}.${options.targetLanguage}.`,
  );
}

/**
 * Reads a UTF-8 text file. Everything wrong is `INVALID_DATA` naming the file: it does not exist, it is a folder,
 * it cannot be read (permission, I/O error), or it is not text (a NUL byte, or bytes that are not UTF-8).
 * `what` names the file's role in the messages (`Data file`, `Input file`).
 */
export function readTextFile(file: string, what = 'File'): string {
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory()) invalidData(`${what} ${file} is a folder; expected a file.`);
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') invalidData(`${what} ${file} does not exist.`);
    if (code === 'ENOTDIR') invalidData(`${what} ${file} does not exist (a parent is a file).`);
    if (code === 'EISDIR') invalidData(`${what} ${file} is a folder; expected a file.`);
    if (code?.startsWith('E')) invalidData(`${what} ${file} cannot be read: ${describeSystemError(error)}.`);
    throw error;
  }
  return decodeText(bytes, file, what);
}

/** Reads and parses a JSON file; errors name `file:line:column` (see `parseJson`). */
export function readJsonFile(file: string, what = 'File'): unknown {
  return parseJson(readTextFile(file, what), file);
}

/**
 * Reads sentence pairs from TSV (`source<TAB>target`), HF JSON Lines (`{"translation": {"en": …, "de": …}}`)
 * or parallel text (`PREFIX.en` + `PREFIX.de`), chosen by {@link detectFormat}. A malformed line throws
 * `EncouragingLossError` naming `file:line`, or is skipped and counted with `skipBadLines`.
 *
 * @example
 * const { pairs } = readParallelData('train.tsv', { sourceLanguage: 'en', targetLanguage: 'de' });
 */
export function readParallelData(file: string, options: ReadOptions): ReadResult {
  const format = detectFormat(file, options);
  if (format !== 'parallel')
    return parseParallelText(readTextFile(file, 'Data file'), file, { ...options, format });
  const files = parallelFiles(file, options);
  const source = readTextFile(files.source, 'Data file');
  const target = readTextFile(files.target, 'Data file');
  return parseParallelFiles(
    { text: source, file: files.source },
    { text: target, file: files.target },
    options,
  );
}

/** The files a data path reads (one file, or the two of parallel text), for hashing them into a run's identity. */
export function dataFiles(file: string, options: ReadOptions): string[] {
  if (detectFormat(file, options) !== 'parallel') return [file];
  const { source, target } = parallelFiles(file, options);
  return [source, target];
}
