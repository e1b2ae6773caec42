import { invalidData } from '../errors.js';

/** One sentence pair. */
export interface SentencePair {
  source: string;
  target: string;
}

/** Options of {@link parseParallelText} and {@link parseParallelFiles} (and `readParallelData` in `/node`). */
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

/** The extension of a file name, lower-cased, with its dot (`.tsv`); `''` without one. */
function extensionOf(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}

/**
 * The format a file name says by its extension: `.tsv` → TSV, `.jsonl`/`.json` → HF JSON Lines, `.<src>` /
 * `.<tgt>` → one side of parallel text; `undefined` for anything else (a bare parallel-text prefix is recognised
 * by its two files, which only a file system can tell: `detectFormat` in `/node`).
 */
export function formatOfName(file: string, options: ReadOptions): DataFormat | undefined {
  const extension = extensionOf(file).toLowerCase();
  if (extension === '.tsv') return 'tsv';
  if (extension === '.jsonl' || extension === '.json') return 'jsonl';
  if (extension === `.${options.sourceLanguage}` || extension === `.${options.targetLanguage}`)
    return 'parallel';
  return undefined;
}

/**
 * The prefix and the two files of parallel text named by `file`: `PREFIX.<src>`, `PREFIX.<tgt>` or a bare
 * `PREFIX`.
 */
export function parallelFiles(file: string, options: ReadOptions): { source: string; target: string } {
  const extension = extensionOf(file);
  const isLanguageFile =
    extension === `.${options.sourceLanguage}` || extension === `.${options.targetLanguage}`;
  const prefix = isLanguageFile ? file.slice(0, -extension.length) : file;
  return { source: `${prefix}.${options.sourceLanguage}`, target: `${prefix}.${options.targetLanguage}` };
}

/**
 * UTF-8 text of a file's bytes (a leading BOM dropped). Bytes that are not text are `INVALID_DATA` naming the
 * file: a NUL byte, or bytes that are not UTF-8. `what` names the file's role (`Data file`, `Model config`).
 */
export function decodeText(bytes: Uint8Array, file: string, what = 'File'): string {
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

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
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

/** Collects pairs and problems; a problem throws unless `skipBadLines`. */
function collector(options: ReadOptions) {
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
  const result = (): ReadResult => ({ pairs, skipped: problems.length, problems });
  return { handle, result };
}

/**
 * Parses sentence pairs from the text of a TSV (`source<TAB>target`) or HF JSON Lines
 * (`{"translation": {"en": …, "de": …}}`) file; `format` defaults to what `file`'s extension says
 * ({@link formatOfName}). A malformed line throws `EncouragingLossError` naming `file:line`, or is skipped and
 * counted with `skipBadLines`.
 *
 * @example
 * const { pairs } = parseParallelText('a\tb\n', 'train.tsv', { sourceLanguage: 'en', targetLanguage: 'de' });
 */
export function parseParallelText(
  text: string,
  file: string,
  options: ReadOptions & { format?: 'tsv' | 'jsonl' },
): ReadResult {
  const format = options.format ?? formatOfName(file, options);
  if (format !== 'tsv' && format !== 'jsonl') {
    invalidData(
      `Cannot tell the format of ${file}: expected .tsv, .jsonl, or parallel files ${file}.${options.sourceLanguage} + ${file}.${options.targetLanguage}.`,
    );
  }
  const { handle, result } = collector(options);
  splitLines(text).forEach((line, i) => {
    handle(format === 'tsv' ? parseTsvLine(line) : parseJsonLine(line, options), `${file}:${i + 1}`);
  });
  return result();
}

/**
 * Parses parallel text: the texts of `PREFIX.<src>` and `PREFIX.<tgt>`, line `i` of one the translation of line
 * `i` of the other (the two files are named for messages). Files of different lengths are `INVALID_DATA`; an
 * empty line throws naming `file:line`, or is skipped with `skipBadLines`.
 */
export function parseParallelFiles(
  source: { text: string; file: string },
  target: { text: string; file: string },
  options: ReadOptions,
): ReadResult {
  const sources = splitLines(source.text);
  const targets = splitLines(target.text);
  if (sources.length !== targets.length) {
    invalidData(
      `Parallel files differ in length: ${source.file} has ${sources.length} lines, ${target.file} has ${targets.length}.`,
    );
  }
  const { handle, result } = collector(options);
  sources.forEach((line, i) => {
    const other = targets[i];
    if (!line.trim()) handle('empty source line', `${source.file}:${i + 1}`);
    else if (!other.trim()) handle('empty target line', `${target.file}:${i + 1}`);
    else handle({ source: line.trim(), target: other.trim() }, `${source.file}:${i + 1}`);
  });
  return result();
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

/** Writes pairs as TSV text (tabs and newlines inside a sentence become spaces). */
export function formatTsv(pairs: readonly SentencePair[]): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ');
  return pairs.map((p) => `${clean(p.source)}\t${clean(p.target)}\n`).join('');
}
