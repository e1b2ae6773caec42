import { invalidData } from '../errors.js';
import { SentencePieceBpe } from '../models/m2m100/sentencepiece-bpe.js';
import { loadM2M100FamilyTokenizer } from '../models/m2m100/tokenization.js';
import { type Folder, folderPath } from '../store/folder.js';
import { base64 } from '../tokenizers/convert-marian.js';

type JsonObject = Record<string, unknown>;

/** What {@link convertM2M100Tokenizer} writes: `tokenizer.json` and `tokenizer_config.json` contents. */
export interface ConvertedM2M100Tokenizer {
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
}

/**
 * Merges of a SentencePiece BPE model as transformers' `SpmConverter` derives them: every split of a piece into
 * two pieces of the model, grouped by the merged piece in id order (SentencePiece BPE ids follow the merge
 * order), the splits of one piece ordered by the left then the right part's id.
 */
export function sentencePieceMerges(pieces: readonly string[]): string[] {
  const ids = new Map(pieces.map((p, i) => [p, i]));
  const merges: string[] = [];
  for (const merged of pieces.slice(3)) {
    const splits: [string, string][] = [];
    for (let k = 1; k < merged.length; k++) {
      const left = merged.slice(0, k);
      const right = merged.slice(k);
      if (ids.has(left) && ids.has(right)) splits.push([left, right]);
    }
    splits.sort((a, b) => ids.get(a[0])! - ids.get(b[0])! || ids.get(a[1])! - ids.get(b[1])!);
    for (const [left, right] of splits) merges.push(`${left} ${right}`);
  }
  return merges;
}

const special = (id: number, content: string): JsonObject => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/**
 * An NLLB-200 or M2M100 tokenizer folder (`sentencepiece.bpe.model`, plus `vocab.json` for M2M100) as a
 * `tokenizer.json` that transformers.js' `NllbTokenizer` / `M2M100Tokenizer` load, computing the ids HF's slow
 * tokenizers compute: a BPE model whose merges come from the SentencePiece model ({@link sentencePieceMerges}),
 * its vocabulary fairseq's ids (NLLB: SentencePiece id + 1 after `<s> <pad> </s> <unk>`; M2M100: `vocab.json`),
 * the language codes as added special tokens (`eng_Latn` / `__en__`), the model's precompiled character map
 * with runs of spaces collapsed, Metaspace, and the template `[src_lang] $A </s>` (`$A </s> [src_lang]` for
 * NLLB's `legacy_behaviour`) whose language token transformers.js replaces by the call's `src_lang`.
 *
 * A SentencePiece piece that `vocab.json` lacks stays in the merges and becomes `<unk>` in transformers.js, as in
 * `M2M100Tokenizer`; HF's Rust `tokenizers` refuses such a merge (its result must be in the vocabulary).
 */
export function convertM2M100Tokenizer(folder: Folder): ConvertedM2M100Tokenizer {
  const tokenizer = loadM2M100FamilyTokenizer(folder);
  const spmPath = folderPath(folder, 'sentencepiece.bpe.model');
  const spm = new SentencePieceBpe(folder.read('sentencepiece.bpe.model'), spmPath);
  if (spm.model.modelType !== 2) invalidData(`${spmPath} is not a SentencePiece BPE model.`);
  const pieces = spm.model.pieces.map((p) => p.piece);
  const vocab: Record<string, number> = {};
  const specials: [string, number][] = [
    ['<s>', 0],
    ['<pad>', 1],
    ['</s>', 2],
    ['<unk>', 3],
  ];
  for (const [token, id] of specials) vocab[token] = id;
  if (tokenizer.family === 'nllb') {
    for (let id = 3; id < pieces.length; id++) if (!(pieces[id] in vocab)) vocab[pieces[id]] = id + 1;
  } else {
    const entries = JSON.parse(folder.readText('vocab.json')) as Record<string, number>;
    Object.assign(vocab, entries);
  }
  const languageToken = (code: string) => (tokenizer.family === 'm2m100' ? `__${code}__` : code);
  const codes = tokenizer.languageCodes.map(
    (code) => [languageToken(code), tokenizer.languageId(code)] as const,
  );
  const added = [
    ...specials.map(([token, id]) => special(id, token)),
    ...codes.map(([t, id]) => special(id, t)),
  ];
  if (tokenizer.family === 'nllb') {
    const maskId = tokenizer.tokenId?.('<mask>');
    if (maskId !== undefined) added.push({ ...special(maskId, '<mask>'), lstrip: true, normalized: true });
  }
  const source = languageToken(tokenizer.srcLang);
  const sourceId = tokenizer.languageId(tokenizer.srcLang);
  const legacy = tokenizer.encodeSource('').at(-1) === sourceId;
  const token = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const sequence = (id: string) => ({ Sequence: { id, type_id: 0 } });
  const template = (...middle: object[]) =>
    legacy ? [...middle, token('</s>'), token(source)] : [token(source), ...middle, token('</s>')];
  const metaspace = {
    type: 'Metaspace',
    replacement: '\u2581',
    add_prefix_space: true,
    prepend_scheme: 'always',
  };
  const tokenizerJson: JsonObject = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        {
          type: 'Precompiled',
          precompiled_charsmap: base64(spm.model.precompiledCharsmap),
        },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: template(sequence('A')),
      pair: template(sequence('A'), sequence('B')),
      special_tokens: {
        [source]: { id: source, ids: [sourceId], tokens: [source] },
        '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] },
      },
    },
    decoder: metaspace,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: false,
      vocab,
      merges: sentencePieceMerges(pieces),
    },
  };
  const tokenizerConfig: JsonObject = {
    tokenizer_class: tokenizer.family === 'nllb' ? 'NllbTokenizer' : 'M2M100Tokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    sep_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    src_lang: tokenizer.srcLang,
    tgt_lang: null,
    model_max_length: 1024,
    additional_special_tokens: codes.map(([t]) => t),
  };
  return { tokenizerJson, tokenizerConfig };
}
