import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { invalidData } from '../errors.js';
import type { SubwordTokenizer } from './tokenizer.js';

/**
 * Loads `dir/tokenizer.json` through transformers.js from local files only (remote models are disabled, so
 * nothing is ever downloaded).
 */
export async function loadTokenizerJson(dir: string): Promise<SubwordTokenizer> {
  const absolute = resolve(dir);
  try {
    readFileSync(join(absolute, 'tokenizer.json'));
  } catch {
    invalidData(`No tokenizer.json in ${absolute}.`);
  }
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${dirname(absolute)}/`;
  const tokenizer = await AutoTokenizer.from_pretrained(basename(absolute), { local_files_only: true });
  const vocab = (
    JSON.parse(readFileSync(join(absolute, 'tokenizer.json'), 'utf8')) as { model: { vocab: object } }
  ).model.vocab;
  // BPE vocabularies are {token: id}; Unigram ones (converted SentencePiece) are [[piece, score], …].
  const ids = new Map<string, number>(
    Array.isArray(vocab)
      ? (vocab as [string, number][]).map(([piece], id) => [piece, id])
      : (Object.entries(vocab) as [string, number][]),
  );
  const special = (token: string) => {
    const id = ids.get(token);
    return id === undefined ? invalidData(`${absolute}/tokenizer.json has no ${token} token.`) : id;
  };
  const encode = (text: string) => Array.from(tokenizer.encode(text) as number[]);
  return {
    vocabSize: ids.size,
    padId: special('<pad>'),
    eosId: special('</s>'),
    unkId: special('<unk>'),
    encode,
    encodeSource: encode,
    encodeTarget: encode,
    tokenId: (token) => ids.get(token),
    // transformers.js rejects an empty id list; an empty translation is the empty string.
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: true })),
  };
}

/**
 * The `post_processor` of a `tokenizer.json` that appends `</s>` to every sequence, as Marian's tokenizers do
 * (HF `TemplateProcessing`: `$A </s>`, `$A $B </s>`).
 */
export function appendEosPostProcessor(eosToken: string, eosId: number): object {
  return {
    type: 'TemplateProcessing',
    single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eosToken, type_id: 0 } }],
    pair: [
      { Sequence: { id: 'A', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 0 } },
      { SpecialToken: { id: eosToken, type_id: 0 } },
    ],
    special_tokens: { [eosToken]: { id: eosToken, ids: [eosId], tokens: [eosToken] } },
  };
}
