import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { describeSystemError, invalidData } from '../errors.js';

/** One sentence pair. */
export interface SentencePair {
  source: string;
  target: string;
}

/** Options of {@link readParallelData}. */
export interface ReadOptions {
  /** Source language code (`en`): the JSON Lines key and the parallel-text suffix. */
  sourceLanguage: string;
  /** Target language code (`de`). */
  targetLanguage: string;
  /** Skip and count malformed lines instead of failing on the first. Default `false`. */
  skipBadLines?: boolean;
}

/** Pairs read, and how many malformed lines were skipped (always 0 without `skipBadLines`). */
export interface ReadResult {
  pairs: SentencePair[];
  skipped: number;
  /** `file:line: reason` of each skipped line. */
  problems: string[];
}

export type DataFormat = 'tsv' | 'jsonl' | 'parallel';

/**
 * Which reader a path needs: `.tsv` → TSV, `.jsonl`/`.json` → HF JSON Lines, `PREFIX.<src>` / `PREFIX.<tgt>` or a
 * bare `PREFIX` whose two language files exist → parallel text.
 */
export function detectFormat(file: string, options: ReadOptions): DataFormat {
  if (existsSync(file) && statSync(file).isDirectory())
    invalidData(`Data file ${file} is a folder; expected a file.`);
  const extension = extname(file).toLowerCase();
  if (extension === '.tsv') return 'tsv';
  if (extension === '.jsonl' || extension === '.json') return 'jsonl';
  if (extension === `.${options.sourceLanguage}` || extension === `.${options.targetLanguage}`)
    return 'parallel';
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
  const nul = bytes.indexOf(0);
  if (nul >= 0) invalidData(`${what} ${file} is not text: NUL byte at offset ${nul}.`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return invalidData(`${what} ${file} is not UTF-8 text.`);
  }
}

/** `text` is valid JSON, or only ends too early (its error, if any, lies at its very end). */
const endsEarly = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true; // a complete value (`12` of `12x`): the error lies further on
  } catch (error) {
    const message = (error as Error).message;
    const position = message.match(/position (\d+)/);
    return position ? Number(position[1]) >= text.length : /end of (JSON|data) input/i.test(message);
  }
};

/**
 * The offset of the first character JSON cannot continue with, for V8 messages that give none (`Unexpected token
 * 'x', …`): every shorter prefix parses or merely ends early, so a binary search over prefixes finds it. `-1` if
 * `text` is valid JSON.
 */
function syntaxErrorOffset(text: string): number {
  if (endsEarly(text)) return isComplete(text) ? -1 : text.length;
  let [low, high] = [0, text.length]; // prefix `low` ends early; prefix `high` fails otherwise
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (endsEarly(text.slice(0, middle))) low = middle;
    else high = middle;
  }
  return high - 1;
}

function isComplete(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `line:column` (1-based) of a JSON syntax error, from the `position N` V8 reports; `undefined` without one. */
export function jsonErrorLocation(
  text: string,
  error: unknown,
): { line: number; column: number } | undefined {
  const message = (error as Error)?.message ?? '';
  const explicit = message.match(/line (\d+) column (\d+)/);
  if (explicit) return { line: Number(explicit[1]), column: Number(explicit[2]) };
  const position = message.match(/position (\d+)/);
  const offset = position ? Number(position[1]) : syntaxErrorOffset(text);
  if (offset < 0) return undefined;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/**
 * Parses JSON text read from `file`; a syntax error is `INVALID_DATA` as `file:line:column: not valid JSON (…)`.
 * `firstLine` offsets the line number (a JSON Lines record on line 7 passes 7).
 */
export function parseJson(text: string, file: string, firstLine = 1): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const at = jsonErrorLocation(text, error);
    const where = at ? `${file}:${at.line + firstLine - 1}:${at.column}` : `${file}:${firstLine}`;
    return invalidData(`${where}: not valid JSON (${(error as Error).message}).`);
  }
}

/** Reads and parses a JSON file; errors name `file:line:column` (see {@link parseJson}). */
export function readJsonFile(file: string, what = 'File'): unknown {
  return parseJson(readTextFile(file, what), file);
}

function readLines(file: string): string[] {
  const lines = readTextFile(file, 'Data file').split(/\r?\n/);
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function parseTsvLine(line: string): SentencePair | string {
  const fields = line.split('\t');
  if (fields.length !== 2) return `expected source<TAB>target (2 fields), got ${fields.length}`;
  const [source, target] = fields.map((f) => f.trim());
  if (!source || !target) return 'empty source or target';
  return { source, target };
}

function parseJsonLine(line: string, options: ReadOptions): SentencePair | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    const column = jsonErrorLocation(line, error)?.column;
    return `${column === undefined ? '' : `column ${column}: `}invalid JSON (${(error as Error).message})`;
  }
  const translation = (value as { translation?: Record<string, unknown> } | null)?.translation;
  if (translation === null || typeof translation !== 'object') {
    return 'expected {"translation": {...}}';
  }
  const source = translation[options.sourceLanguage];
  const target = translation[options.targetLanguage];
  if (typeof source !== 'string' || typeof target !== 'string') {
    return `expected string fields translation.${options.sourceLanguage} and translation.${options.targetLanguage}`;
  }
  if (!source.trim() || !target.trim()) return 'empty source or target';
  return { source: source.trim(), target: target.trim() };
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
  const pairs: SentencePair[] = [];
  const problems: string[] = [];
  const handle = (result: SentencePair | string, where: string) => {
    if (typeof result !== 'string') {
      pairs.push(result);
      return;
    }
    if (!options.skipBadLines) invalidData(`${where}: ${result} (use --skip-bad-lines to skip such lines).`);
    problems.push(`${where}: ${result}`);
  };
  if (format === 'parallel') {
    const extension = extname(file);
    const isLanguageFile =
      extension === `.${options.sourceLanguage}` || extension === `.${options.targetLanguage}`;
    const prefix = isLanguageFile ? file.slice(0, -extension.length) : file;
    const sourceFile = `${prefix}.${options.sourceLanguage}`;
    const targetFile = `${prefix}.${options.targetLanguage}`;
    const sources = readLines(sourceFile);
    const targets = readLines(targetFile);
    if (sources.length !== targets.length) {
      invalidData(
        `Parallel files differ in length: ${sourceFile} has ${sources.length} lines, ${targetFile} has ${targets.length}.`,
      );
    }
    sources.forEach((source, i) => {
      const target = targets[i];
      if (!source.trim()) handle('empty source line', `${sourceFile}:${i + 1}`);
      else if (!target.trim()) handle('empty target line', `${targetFile}:${i + 1}`);
      else handle({ source: source.trim(), target: target.trim() }, `${sourceFile}:${i + 1}`);
    });
  } else {
    readLines(file).forEach((line, i) => {
      const result = format === 'tsv' ? parseTsvLine(line) : parseJsonLine(line, options);
      handle(result, `${file}:${i + 1}`);
    });
  }
  return { pairs, skipped: problems.length, problems };
}

/**
 * The pairs of a read, refusing a file that gave none (`INVALID_DATA`): an empty file, or one whose every line was
 * malformed and skipped. A score or a training run on nothing would look like a result.
 */
export function requirePairs(result: ReadResult, file: string): SentencePair[] {
  if (result.pairs.length === 0) {
    invalidData(
      result.skipped > 0
        ? `${file} has no usable sentence pairs: all ${result.skipped} lines were malformed (first: ${result.problems[0]}).`
        : `${file} has no sentence pairs (the file is empty).`,
    );
  }
  return result.pairs;
}

/** The files a data path reads (one file, or the two of parallel text), for hashing them into a run's identity. */
export function dataFiles(file: string, options: ReadOptions): string[] {
  if (detectFormat(file, options) !== 'parallel') return [file];
  const extension = extname(file);
  const isLanguageFile =
    extension === `.${options.sourceLanguage}` || extension === `.${options.targetLanguage}`;
  const prefix = isLanguageFile ? file.slice(0, -extension.length) : file;
  return [`${prefix}.${options.sourceLanguage}`, `${prefix}.${options.targetLanguage}`];
}

/** Writes pairs as TSV text (tabs and newlines inside a sentence become spaces). */
export function formatTsv(pairs: readonly SentencePair[]): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ');
  return pairs.map((p) => `${clean(p.source)}\t${clean(p.target)}\n`).join('');
}
