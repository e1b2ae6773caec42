import type { WritableFolder } from '../store/folder.js';
import { appendEosPostProcessor } from './tokenizer-json.js';

/** The special tokens, at fixed ids (Marian keeps `</s>` as EOS and uses `<pad>` as decoder start). */
export const PAD_TOKEN = '<pad>';
export const EOS_TOKEN = '</s>';
export const UNK_TOKEN = '<unk>';
export const PAD_ID = 0;
export const EOS_ID = 1;
export const UNK_ID = 2;
const SPECIALS = [PAD_TOKEN, EOS_TOKEN, UNK_TOKEN];
const SPACE = '\u2581'; // ▁, SentencePiece's word-boundary marker

/** Options of {@link trainBpe}. */
export interface BpeOptions {
  /** Target vocabulary size, specials included. */
  vocabSize: number;
  /** A merge must occur at least this often. Default `2`. */
  minFrequency?: number;
  /** Characters always in the vocabulary even if unseen (e.g. umlauts). */
  alphabet?: string;
}

/** A trained BPE model: token → id and the ordered merges. */
export interface BpeModel {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Trains a byte-pair-encoding model on whitespace-split words marked with a leading `▁` (the Metaspace
 * pre-tokenizer of HF tokenizers), most frequent pair first, ties broken by the pair's text so training is
 * deterministic.
 */
export function trainBpe(sentences: Iterable<string>, options: BpeOptions): BpeModel {
  const minFrequency = options.minFrequency ?? 2;
  const wordCounts = new Map<string, number>();
  for (const sentence of sentences) {
    for (const word of sentence.normalize('NFC').split(/\s+/)) {
      if (word) wordCounts.set(SPACE + word, (wordCounts.get(SPACE + word) ?? 0) + 1);
    }
  }
  const charCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const char of word) charCounts.set(char, (charCounts.get(char) ?? 0) + count);
  }
  for (const char of options.alphabet ?? '') if (!charCounts.has(char)) charCounts.set(char, 0);
  const vocab = new Map<string, number>();
  for (const token of SPECIALS) vocab.set(token, vocab.size);
  const alphabet = [...charCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [char] of alphabet) vocab.set(char, vocab.size);
  const words = [...wordCounts.entries()].map(([word, count]) => ({ symbols: Array.from(word), count }));
  const merges: [string, string][] = [];
  while (vocab.size < options.vocabSize) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [left, right] = best.split(' ');
    const merged = left + right;
    merges.push([left, right]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const word of words) {
      const { symbols } = word;
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(symbols[i]);
      }
      word.symbols = next;
    }
  }
  return { vocab, merges };
}

/** The HF `tokenizer.json` of a BPE model: NFC, Metaspace, `</s>` appended, Metaspace decoding. */
export function toTokenizerJson(model: BpeModel): object {
  const metaspace = { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: metaspace,
    post_processor: appendEosPostProcessor(EOS_TOKEN, EOS_ID),
    decoder: metaspace,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK_TOKEN,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(model.vocab),
      merges: model.merges,
    },
  };
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `folder`. */
export function saveTokenizer(model: BpeModel, folder: WritableFolder): void {
  folder.write('tokenizer.json', JSON.stringify(toTokenizerJson(model)));
  folder.write(
    'tokenizer_config.json',
    JSON.stringify(
      {
        tokenizer_class: 'PreTrainedTokenizerFast',
        model_max_length: 512,
        eos_token: EOS_TOKEN,
        pad_token: PAD_TOKEN,
        unk_token: UNK_TOKEN,
        clean_up_tokenization_spaces: false,
      },
      null,
      2,
    ),
  );
}

/**
 * The tokenizer of a model folder (re-exported from `load.ts`): OPUS-MT SentencePiece files when present, else
 * `tokenizer.json` through transformers.js.
 */
export { loadFolderTokenizer as loadTokenizer } from './load.js';
export type { SubwordTokenizer } from './tokenizer.js';
