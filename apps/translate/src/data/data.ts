import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { invalidData } from '../errors.js';

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

function readLines(file: string): string[] {
  if (!existsSync(file)) invalidData(`Data file ${file} does not exist.`);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
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
    return `invalid JSON (${(error as Error).message})`;
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

/** Writes pairs as TSV text (tabs and newlines inside a sentence become spaces). */
export function formatTsv(pairs: readonly SentencePair[]): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ');
  return pairs.map((p) => `${clean(p.source)}\t${clean(p.target)}\n`).join('');
}
