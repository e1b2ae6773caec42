import { invalidData } from '../errors.js';
import { type Folder, folderPath, readFolderJson } from '../store/folder.js';
import { loadMarianTokenizer, readModelFile } from './marian.js';
import { PieceType, SentencePiece } from './sentencepiece.js';
import { appendEosPostProcessor } from './tokenizer-json.js';

/** What {@link convertMarianTokenizer} returns: HF `tokenizers` / transformers.js files for an OPUS-MT folder. */
export interface ConvertedMarianTokenizer {
  /**
   * `tokenizer.json` of the source side (`source.spm`): what transformers.js' `MarianTokenizer` encodes inputs
   * and decodes outputs with. Ids are `vocab.json`'s.
   */
  tokenizerJson: Record<string, unknown>;
  /** `tokenizer.json` of the target side (`target.spm`), for encoding labels. */
  targetTokenizerJson: Record<string, unknown>;
  /** `tokenizer_config.json`: the folder's own fields plus the class and special tokens transformers.js reads. */
  tokenizerConfig: Record<string, unknown>;
}

const SPACE = '\u2581';

/** Base64 of bytes without Node's `Buffer` (browsers have `btoa`, Node ≥ 16 too). */
export function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * The `tokenizer.json` of one side of a Marian tokenizer, in the form HF `convert_slow_tokenizer`'s SentencePiece
 * converters write (and Xenova/opus-mt-* repos carry): a `Unigram` model whose vocabulary is `vocab.json` in id
 * order with this side's SentencePiece scores, the model's own normaliser (`Precompiled` with the `.spm`'s
 * precompiled_charsmap, then SentencePiece's whitespace trimming and collapsing), a `Metaspace` pre-tokenizer and
 * decoder, and `</s>` appended by the post-processor.
 *
 * A `vocab.json` entry this side's `.spm` lacks (the other language's pieces, language tokens) keeps its text, so
 * decoding works, with a score so low (k·(min − 10) − 1 for a k-character entry) that no segmentation prefers it
 * over this side's pieces; HF `tokenizers` takes its unknown-piece penalty from the lowest score, so a character
 * that only the other side has as a piece comes out as that piece rather than `<unk>` (the one known difference
 * from `spm_encode` + `vocab.json`; SentencePiece pieces missing from `vocab.json` cannot be expressed either).
 */
function sideJson(
  spm: SentencePiece,
  tokens: readonly string[],
  special: { unk: number; eos: number; pad: number },
  addedTokens: { id: number; content: string; special: boolean }[],
): Record<string, unknown> {
  const scores = new Map<string, number>();
  let min = Number.POSITIVE_INFINITY;
  for (const piece of spm.model.pieces) {
    if (piece.type === PieceType.NORMAL || piece.type === PieceType.USER_DEFINED) {
      scores.set(piece.piece, piece.score);
      if (piece.type === PieceType.NORMAL) min = Math.min(min, piece.score);
    }
  }
  const specialIds = new Set([special.unk, special.eos, special.pad]);
  const vocab = tokens.map((token, id) => {
    if (specialIds.has(id)) return [token, 0];
    const score = scores.get(token);
    return [token, score ?? Math.fround(Array.from(token).length * (min - 10) - 1)];
  });
  const { model } = spm;
  const normalizers: Record<string, unknown>[] = [];
  if (model.precompiledCharsmap.length > 0) {
    normalizers.push({
      type: 'Precompiled',
      precompiled_charsmap: base64(model.precompiledCharsmap),
    });
  }
  if (model.removeExtraWhitespaces) {
    normalizers.push({ type: 'Strip', strip_left: true, strip_right: true });
    normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  }
  const metaspace = {
    type: 'Metaspace',
    replacement: SPACE,
    prepend_scheme: model.addDummyPrefix ? 'always' : 'never',
    add_prefix_space: model.addDummyPrefix,
    split: true,
  };
  const eos = tokens[special.eos];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens.map(({ id, content, special: isSpecial }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: isSpecial,
    })),
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: metaspace,
    post_processor: appendEosPostProcessor(eos, special.eos),
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: special.unk, vocab, byte_fallback: false },
  };
}

/**
 * Converts an OPUS-MT tokenizer folder (`source.spm`, `target.spm`, `vocab.json`, optional
 * `tokenizer_config.json`) into the files transformers.js and HF `tokenizers` load: a source-side and a
 * target-side `tokenizer.json` and a `tokenizer_config.json` (`tokenizer_class: "MarianTokenizer"`). Language
 * tokens (`>>deu<<`) become non-special added tokens, so a text that starts with one keeps it as one token, as
 * `MarianTokenizer` does.
 *
 * The app itself encodes with the SentencePiece files ({@link loadMarianTokenizer}), which agree with `spm_encode`
 * exactly; this conversion is for exporting a folder to transformers.js, whose `Precompiled` normaliser
 * approximates the character map with Unicode NFKC.
 *
 * @example
 * const { tokenizerJson, tokenizerConfig } = convertMarianTokenizer(nodeFolder('./opus-mt-en-de'));
 * nodeFolder('out').write('tokenizer.json', JSON.stringify(tokenizerJson));
 */
export function convertMarianTokenizer(folder: Folder): ConvertedMarianTokenizer {
  const tokenizer = loadMarianTokenizer(folder);
  const special = { unk: tokenizer.unkId, eos: tokenizer.eosId, pad: tokenizer.padId };
  const addedTokens = tokenizer.tokens
    .map((content, id) => ({ id, content, special: tokenizer.specialTokens.has(content) }))
    .filter(({ content, special: isSpecial }) => isSpecial || /^>>.+<<$/.test(content));
  const side = (file: string) => new SentencePiece(readModelFile(folder, file), folderPath(folder, file));
  const configPath = folderPath(folder, 'tokenizer_config.json');
  const original = folder.has('tokenizer_config.json')
    ? readFolderJson(folder, 'tokenizer_config.json', 'Tokenizer file')
    : {};
  if (!original || typeof original !== 'object' || Array.isArray(original))
    invalidData(`${configPath}: not a JSON object.`);
  return {
    tokenizerJson: sideJson(side('source.spm'), tokenizer.tokens, special, addedTokens),
    targetTokenizerJson: sideJson(side('target.spm'), tokenizer.tokens, special, addedTokens),
    tokenizerConfig: {
      model_max_length: 512,
      clean_up_tokenization_spaces: false,
      ...(original as Record<string, unknown>),
      tokenizer_class: 'MarianTokenizer',
      eos_token: tokenizer.tokens[special.eos],
      unk_token: tokenizer.tokens[special.unk],
      pad_token: tokenizer.tokens[special.pad],
      separate_vocabs: false,
    },
  };
}
