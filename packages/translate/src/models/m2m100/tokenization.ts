import { invalidData, invalidOption } from '../../errors.js';
import { type Folder, folderPath } from '../../store/folder.js';
import type { SubwordTokenizer } from '../../tokenizers/tokenizer.js';
import { M2M100_LANGUAGE_CODES, NLLB_LANGUAGE_CODES } from './language-codes.js';
import { SentencePieceBpe } from './sentencepiece-bpe.js';

/** fairseq's special ids, shared by NLLB-200 and M2M100. */
export const FAIRSEQ_SPECIALS = { bos: 0, pad: 1, eos: 2, unk: 3 } as const;

/** Languages of a tokenizer: the source (encoder inputs) and the target (labels, forced first generated token). */
export interface LanguagePair {
  /** Source language code (`eng_Latn` for NLLB, `en` or `__en__` for M2M100). Default: HF's (`eng_Latn` / `en`). */
  srcLang?: string;
  /** Target language code (`deu_Latn` / `de`). Needed by `encodeTarget` and {@link M2M100FamilyTokenizer.forcedBosTokenId}. */
  tgtLang?: string;
}

/**
 * A tokenizer of the M2M100 family, as HF's `NllbTokenizer(Fast)` / `M2M100Tokenizer` compute ids: the
 * {@link SubwordTokenizer} contract (source = `[src_lang] pieces </s>`, labels = `[tgt_lang] pieces </s>`) plus
 * the language codes and the generation's forced first token.
 */
export interface M2M100FamilyTokenizer extends SubwordTokenizer {
  readonly family: 'nllb' | 'm2m100';
  /** Valid `srcLang` / `tgtLang` values, in id order. */
  readonly languageCodes: readonly string[];
  readonly srcLang: string;
  readonly tgtLang: string | undefined;
  /** Id of a language code (`INVALID_OPTION` naming the valid codes when it is not one). */
  languageId(code: string): number;
  /** `forced_bos_token_id` of generation: the target language's id (`INVALID_OPTION` without `tgtLang`). */
  readonly forcedBosTokenId: number;
  /** SentencePiece pieces of `text` (no special tokens). */
  pieces(text: string): string[];
  /** A copy for another language pair. */
  withLanguages(languages: LanguagePair): M2M100FamilyTokenizer;
}

function readJson(folder: Folder, file: string): Record<string, unknown> {
  const path = folderPath(folder, file);
  try {
    const value = JSON.parse(folder.readText(file));
    if (!value || typeof value !== 'object' || Array.isArray(value))
      invalidData(`${path}: not a JSON object.`);
    return value;
  } catch (error) {
    if ((error as { code?: string }).code === 'INVALID_DATA') throw error;
    return invalidData(`${path}: not valid JSON (${(error as Error).message}).`);
  }
}

function optionalJson(folder: Folder, file: string): Record<string, unknown> {
  return folder.has(file) ? readJson(folder, file) : {};
}

function loadSentencePiece(folder: Folder): SentencePieceBpe {
  if (!folder.has('sentencepiece.bpe.model')) invalidData(`${folder.name} has no sentencepiece.bpe.model.`);
  return new SentencePieceBpe(
    folder.read('sentencepiece.bpe.model'),
    folderPath(folder, 'sentencepiece.bpe.model'),
  );
}

/** HF `convert_tokens_to_string` of both tokenizers on plain pieces: joined, `▁` as spaces, trimmed. */
function piecesToText(pieces: string[]): string {
  return pieces.join('').replaceAll('\u2581', ' ').trim();
}

interface Layout {
  family: 'nllb' | 'm2m100';
  dir: string;
  spm: SentencePieceBpe;
  codes: readonly string[];
  /** Id of a code's token. */
  codeIds: Map<string, number>;
  /** Accepted spellings of each code (M2M100: `en` and `__en__`). */
  aliases: Map<string, string>;
  pieceToId: (piece: string) => number;
  idToPiece: (id: number) => string | undefined;
  vocabSize: number;
  specialIds: Set<number>;
  defaultSource: string;
  /** NLLB `legacy_behaviour`: `tokens </s> [lang]` instead of `[lang] tokens </s>`. */
  legacy: boolean;
  tokenId: (token: string) => number | undefined;
}

function build(layout: Layout, languages: LanguagePair): M2M100FamilyTokenizer {
  const { codes, aliases, codeIds } = layout;
  const languageId = (code: string): number => {
    const canonical = aliases.get(code);
    if (canonical === undefined) {
      return invalidOption(
        `${code} is not a language code of ${layout.dir} (${layout.family === 'nllb' ? 'NLLB-200' : 'M2M100'}); valid codes: ${codes.join(', ')}.`,
      );
    }
    return codeIds.get(canonical)!;
  };
  const srcLang = languages.srcLang ?? layout.defaultSource;
  const source = languageId(srcLang);
  const target = languages.tgtLang === undefined ? undefined : languageId(languages.tgtLang);
  const needTarget = (): number =>
    target ??
    invalidOption(`${layout.dir}: a target language is needed (--tgt-lang, one of ${codes.join(', ')}).`);
  const ids = (text: string) => layout.spm.encode(text).map(layout.pieceToId);
  const wrap = (lang: number, text: string) =>
    layout.legacy ? [...ids(text), FAIRSEQ_SPECIALS.eos, lang] : [lang, ...ids(text), FAIRSEQ_SPECIALS.eos];
  const encodeSource = (text: string) => wrap(source, text);
  return {
    family: layout.family,
    languageCodes: codes,
    srcLang,
    tgtLang: languages.tgtLang,
    vocabSize: layout.vocabSize,
    padId: FAIRSEQ_SPECIALS.pad,
    eosId: FAIRSEQ_SPECIALS.eos,
    unkId: FAIRSEQ_SPECIALS.unk,
    languageId,
    get forcedBosTokenId() {
      return needTarget();
    },
    pieces: (text) => layout.spm.encode(text),
    encodeSource,
    encode: encodeSource,
    encodeTarget: (text) => wrap(needTarget(), text),
    tokenId: layout.tokenId,
    decode: (list) =>
      piecesToText(
        list
          .filter((id) => !layout.specialIds.has(id))
          .map((id) => layout.idToPiece(id))
          .filter((piece): piece is string => piece !== undefined),
      ),
    withLanguages: (next) => build(layout, next),
  };
}

/**
 * Loads an NLLB-200 tokenizer folder (`sentencepiece.bpe.model`, optional `tokenizer_config.json`) as HF
 * `NllbTokenizer` reads it: fairseq's ids `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3, SentencePiece id + 1 for every
 * other piece (a piece SentencePiece does not know → `<unk>`), the language codes after the SentencePiece vocabulary
 * in `FAIRSEQ_LANGUAGE_CODES` order (or the config's `additional_special_tokens`), then `<mask>`. Sources are
 * `[src_lang] pieces </s>`, labels `[tgt_lang] pieces </s>` (`legacy_behaviour: true`: `pieces </s> [lang]`).
 */
export function loadNllbTokenizer(folder: Folder, languages: LanguagePair = {}): M2M100FamilyTokenizer {
  const dir = folder.name;
  const spm = loadSentencePiece(folder);
  const config = optionalJson(folder, 'tokenizer_config.json');
  const listed = config.additional_special_tokens;
  const codes: readonly string[] =
    Array.isArray(listed) && listed.length > 0 && listed.every((c) => typeof c === 'string')
      ? (listed as string[])
      : NLLB_LANGUAGE_CODES;
  const codeIds = new Map(codes.map((code, i) => [code, spm.size + 1 + i]));
  const maskId = spm.size + 1 + codes.length;
  const fixed = new Map<string, number>([
    ['<s>', 0],
    ['<pad>', 1],
    ['</s>', 2],
    ['<unk>', 3],
    ['<mask>', maskId],
  ]);
  const pieceToId = (piece: string) => {
    const id = spm.pieceId(piece);
    return id === spm.model.unkId ? FAIRSEQ_SPECIALS.unk : id + 1;
  };
  return build(
    {
      family: 'nllb',
      dir,
      spm,
      codes,
      codeIds,
      aliases: new Map(codes.map((c) => [c, c])),
      pieceToId,
      idToPiece: (id) => (id > 3 && id <= spm.size ? spm.idToPiece(id - 1) : undefined),
      vocabSize: maskId + 1,
      specialIds: new Set([0, 1, 2, 3, maskId, ...codeIds.values()]),
      defaultSource: 'eng_Latn',
      legacy: config.legacy_behaviour === true,
      tokenId: (token) =>
        fixed.get(token) ??
        codeIds.get(token) ??
        (spm.pieceId(token) === spm.model.unkId ? undefined : pieceToId(token)),
    },
    languages,
  );
}

/**
 * Loads an M2M100 tokenizer folder (`vocab.json` + `sentencepiece.bpe.model`, optional `tokenizer_config.json`) as
 * HF `M2M100Tokenizer` reads it: pieces become ids through `vocab.json` (fairseq's dictionary, `<unk>` for a piece
 * it lacks), language tokens `__xx__` follow it (`language_codes` `m2m100` or `wmt21`), then `num_madeup_words`
 * unused ids. Sources are `[__src__] pieces </s>`, labels `[__tgt__] pieces </s>`; codes are accepted as `en` or
 * `__en__`.
 */
export function loadM2M100Tokenizer(folder: Folder, languages: LanguagePair = {}): M2M100FamilyTokenizer {
  const dir = folder.name;
  const spm = loadSentencePiece(folder);
  const vocabPath = folderPath(folder, 'vocab.json');
  if (!folder.has('vocab.json')) invalidData(`${dir} has no vocab.json.`);
  const vocab = readJson(folder, 'vocab.json');
  const config = optionalJson(folder, 'tokenizer_config.json');
  const ids = new Map<string, number>();
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      invalidData(`${vocabPath}: ${token} has id ${String(id)}.`);
    ids.set(token, id as number);
    tokens[id as number] = token;
  }
  for (const [token, id] of Object.entries(FAIRSEQ_SPECIALS)) {
    const name = { bos: '<s>', pad: '<pad>', eos: '</s>', unk: '<unk>' }[
      token as keyof typeof FAIRSEQ_SPECIALS
    ];
    if (ids.get(name) !== id)
      invalidData(`${vocabPath}: ${name} must have id ${id}, got ${String(ids.get(name))}.`);
  }
  const setName = (config.language_codes as string | undefined) ?? 'm2m100';
  if (!(setName in M2M100_LANGUAGE_CODES)) {
    invalidData(
      `${folderPath(folder, 'tokenizer_config.json')}: language_codes must be m2m100 or wmt21, got ${setName}.`,
    );
  }
  const codes: readonly string[] = M2M100_LANGUAGE_CODES[setName as keyof typeof M2M100_LANGUAGE_CODES];
  const base = ids.size;
  const codeIds = new Map(codes.map((code, i) => [code, base + i]));
  const aliases = new Map<string, string>();
  for (const code of codes) {
    aliases.set(code, code);
    aliases.set(`__${code}__`, code);
  }
  const madeUp = Number.isInteger(config.num_madeup_words) ? (config.num_madeup_words as number) : 8;
  return build(
    {
      family: 'm2m100',
      dir,
      spm,
      codes,
      codeIds,
      aliases,
      pieceToId: (piece) => ids.get(piece) ?? FAIRSEQ_SPECIALS.unk,
      idToPiece: (id) => (id > 3 && id < base ? tokens[id] : undefined),
      vocabSize: base + codes.length + madeUp,
      specialIds: new Set([0, 1, 2, 3, ...codeIds.values()]),
      defaultSource: 'en',
      legacy: false,
      tokenId: (token) =>
        ids.get(token) ??
        (aliases.has(token) && token.startsWith('__') ? codeIds.get(aliases.get(token)!) : undefined),
    },
    languages,
  );
}

/** Which M2M100-family tokenizer a folder carries: `vocab.json` + spm (M2M100), spm alone (NLLB), or none. */
export function m2m100TokenizerKind(folder: Folder): 'nllb' | 'm2m100' | undefined {
  if (!folder.has('sentencepiece.bpe.model')) return undefined;
  return folder.has('vocab.json') ? 'm2m100' : 'nllb';
}

/** The tokenizer of an NLLB-200 or M2M100 folder (see {@link loadNllbTokenizer}, {@link loadM2M100Tokenizer}). */
export function loadM2M100FamilyTokenizer(
  folder: Folder,
  languages: LanguagePair = {},
): M2M100FamilyTokenizer {
  const kind = m2m100TokenizerKind(folder);
  if (kind === undefined) invalidData(`${folder.name} has no sentencepiece.bpe.model.`);
  return kind === 'm2m100' ? loadM2M100Tokenizer(folder, languages) : loadNllbTokenizer(folder, languages);
}
