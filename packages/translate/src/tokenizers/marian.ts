import { invalidData, invalidOption } from '../errors.js';
import { type Folder, folderPath, readFolderJson } from '../store/folder.js';
import { SentencePiece } from './sentencepiece.js';
import type { SubwordTokenizer } from './tokenizer.js';

/** Files of an OPUS-MT / HF `MarianTokenizer` folder (the last two optional). */
export const MARIAN_TOKENIZER_FILES = [
  'source.spm',
  'target.spm',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

/** Options of {@link loadMarianTokenizer}. */
export interface MarianTokenizerOptions {
  /**
   * Target-language token of a multilingual model (`>>deu<<`), put before every source sentence as HF users write
   * it at the start of the text. Must be in `vocab.json` (`INVALID_OPTION` otherwise).
   */
  targetToken?: string;
}

/** A Marian tokenizer: the {@link SubwordTokenizer} contract plus the pieces behind the ids. */
export interface MarianTokenizer extends SubwordTokenizer {
  /** Source-side pieces of `text` (no `</s>`), as `spm_encode` with `source.spm` prints them. */
  sourcePieces(text: string): string[];
  /** Target-side pieces of `text` (no `</s>`), as `spm_encode` with `target.spm` prints them. */
  targetPieces(text: string): string[];
  /** Token of each id (`vocab.json` inverted). */
  readonly tokens: readonly string[];
  /** Tokens `decode` drops (HF `all_special_tokens`). */
  readonly specialTokens: ReadonlySet<string>;
}

/** A JSON file that must hold an object (`{}` for a missing optional file); `file:line:column` for bad JSON. */
function readJsonObject(folder: Folder, file: string, optional: boolean): Record<string, unknown> {
  if (optional && !folder.has(file)) return {};
  const path = folderPath(folder, file);
  const value = readFolderJson(folder, file, 'Tokenizer file');
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return invalidData(`${path}: not a JSON object.`);
  return value as Record<string, unknown>;
}

/** The bytes of a `.spm` file of a folder; a missing or unreadable file is `INVALID_DATA` naming it. */
export function readModelFile(folder: Folder, file: string): Uint8Array {
  if (!folder.has(file)) invalidData(`${folder.name} has no ${file}.`);
  return folder.read(file);
}

/** A special token as tokenizer_config.json spells it: a string or an AddedToken dict `{content}`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** HF `clean_up_tokenization` (applied when tokenizer_config.json sets `clean_up_tokenization_spaces`). */
function cleanUp(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/**
 * Loads an OPUS-MT tokenizer folder the way HF `MarianTokenizer` reads it: sources are segmented with
 * `source.spm`, targets (labels) with `target.spm`, pieces become ids through the joint `vocab.json` (a piece it
 * lacks becomes `<unk>`), `</s>` is appended; a leading `>>xxx<<` in the text (or `targetToken`) is kept as one
 * token. `decode` maps ids back to tokens, drops the special tokens, joins the pieces and turns `▁` into spaces
 * (`convert_tokens_to_string`), trimmed. Separate source/target vocabularies (`separate_vocabs`) are refused.
 */
export function loadMarianTokenizer(folder: Folder, options: MarianTokenizerOptions = {}): MarianTokenizer {
  const dir = folder.name;
  for (const file of MARIAN_TOKENIZER_FILES.slice(0, 3)) {
    if (!folder.has(file)) invalidData(`${dir} has no ${file}.`);
  }
  const config = readJsonObject(folder, 'tokenizer_config.json', true);
  const map = readJsonObject(folder, 'special_tokens_map.json', true);
  if (config.separate_vocabs === true || folder.has('target_vocab.json')) {
    invalidData(`${dir}: separate source and target vocabularies (separate_vocabs) are not implemented.`);
  }
  const vocabPath = folderPath(folder, 'vocab.json');
  const entries = Object.entries(readJsonObject(folder, 'vocab.json', false));
  const ids = new Map<string, number>();
  const tokens: string[] = [];
  for (const [token, id] of entries) {
    // Ids are 0 … n − 1 for n entries; anything else (a fraction, a huge id making a sparse list) is refused.
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length) {
      invalidData(
        `${vocabPath}: ${JSON.stringify(token)} has id ${typeof id === 'number' ? id : typeof id}, not one of 0 … ${entries.length - 1}.`,
      );
    }
    if (tokens[id as number] !== undefined) invalidData(`${vocabPath}: id ${id} is used twice.`);
    ids.set(token, id as number);
    tokens[id as number] = token;
  }
  for (let i = 0; i < tokens.length; i++)
    if (tokens[i] === undefined) invalidData(`${vocabPath}: id ${i} is missing.`);
  const special = (name: string, fallback: string) => {
    const token = tokenText(config[name]) ?? tokenText(map[name]) ?? fallback;
    const id = ids.get(token);
    if (id === undefined) return invalidData(`${vocabPath} has no ${name} ${token}.`);
    return { token, id };
  };
  const unk = special('unk_token', '<unk>');
  const eos = special('eos_token', '</s>');
  const pad = special('pad_token', '<pad>');
  const additional = [config.additional_special_tokens, map.additional_special_tokens]
    .flatMap((list) => (Array.isArray(list) ? list : []))
    .map(tokenText)
    .filter((t): t is string => t !== undefined);
  const specialTokens = new Set([unk.token, eos.token, pad.token, ...additional]);
  const cleanUpSpaces = config.clean_up_tokenization_spaces === true;
  const side = (file: string) => new SentencePiece(readModelFile(folder, file), folderPath(folder, file));
  const source = side('source.spm');
  const target = side('target.spm');
  let prefix: number[] = [];
  if (options.targetToken !== undefined) {
    const id = ids.get(options.targetToken);
    if (id === undefined || !/^>>.+<<$/.test(options.targetToken)) {
      const known = tokens.filter((t) => /^>>.+<<$/.test(t));
      invalidOption(
        `--target-token ${options.targetToken} is not a language token of ${vocabPath} (${known.length ? known.join(', ') : 'it has none'}).`,
      );
    }
    prefix = [id as number];
  }
  const toId = (piece: string) => ids.get(piece) ?? unk.id;
  // HF remove_language_code: a text that starts with ">>xx<<" keeps that code as one token.
  const split = (text: string): { code: string[]; rest: string } => {
    const end = text.startsWith('>>') ? text.indexOf('<<') : -1;
    return end < 0 ? { code: [], rest: text } : { code: [text.slice(0, end + 2)], rest: text.slice(end + 2) };
  };
  const encodeWith = (model: SentencePiece, text: string, head: number[]) => {
    const { code, rest } = split(text);
    return [...head, ...code.map(toId), ...model.encode(rest).map(toId), eos.id];
  };
  const encodeSource = (text: string) => encodeWith(source, text, prefix);
  return {
    vocabSize: tokens.length,
    padId: pad.id,
    eosId: eos.id,
    unkId: unk.id,
    tokens,
    specialTokens,
    sourcePieces: (text) => source.encode(text),
    targetPieces: (text) => target.encode(text),
    encodeSource,
    encode: encodeSource,
    encodeTarget: (text) => encodeWith(target, text, []),
    tokenId: (token) => ids.get(token),
    decode: (list) => {
      const pieces = list.map((id) => tokens[id] ?? unk.token).filter((token) => !specialTokens.has(token));
      const text = pieces.join('').replaceAll('\u2581', ' ').trim();
      return cleanUpSpaces ? cleanUp(text) : text;
    },
  };
}
