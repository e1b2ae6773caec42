import { EncouragingLossError } from '@encouraging-loss/core';
import { invalidData } from '../errors.js';
import { type Folder, folderPath, readFolderJson } from '../store/folder.js';
import type { SubwordTokenizer } from './tokenizer.js';

/** The `{piece: id}` map of a parsed `tokenizer.json` model: BPE `{token: id}` or Unigram `[[piece, score], …]`. */
function vocabularyIds(parsed: unknown, file: string): Map<string, number> {
  const model = (parsed as { model?: unknown } | null)?.model;
  const vocab = (model as { vocab?: unknown } | null | undefined)?.vocab;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalidData(`${file}: not a tokenizer (a JSON object with a model).`);
  }
  if (Array.isArray(vocab)) {
    const ids = new Map<string, number>();
    vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        invalidData(`${file}: model.vocab[${id}] is not a [piece, score] pair.`);
      }
      ids.set(entry[0], id);
    });
    return ids;
  }
  if (typeof vocab === 'object' && vocab !== null) {
    const ids = new Map<string, number>();
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isSafeInteger(id) || id < 0)
        invalidData(
          `${file}: model.vocab ${JSON.stringify(token)} has id ${typeof id === 'number' ? id : typeof id}.`,
        );
      ids.set(token, id);
    }
    return ids;
  }
  return invalidData(
    `${file}: model.vocab is missing or neither a {token: id} object nor a [[piece, score], …] list.`,
  );
}

/** Runs a transformers.js call; whatever it throws for a malformed file becomes `INVALID_DATA` naming the file. */
function guarded<T>(file: string, what: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof EncouragingLossError) throw error;
    return invalidData(
      `${file}: transformers.js cannot ${what} (${(error as Error)?.message ?? String(error)}).`,
    );
  }
}

/**
 * Loads `tokenizer.json` (with `tokenizer_config.json` when the folder has one) of a folder through transformers.js,
 * from the folder's bytes (nothing is fetched or downloaded). A file that is not JSON (`file:line:column`), whose
 * `model.vocab` is malformed, that lacks `<pad>`, `</s>` or `<unk>`, or that transformers.js cannot build or run is
 * `INVALID_DATA` naming it.
 */
export async function loadTokenizerJson(folder: Folder): Promise<SubwordTokenizer> {
  const file = folderPath(folder, 'tokenizer.json');
  if (!folder.has('tokenizer.json')) invalidData(`No tokenizer.json in ${folder.name}.`);
  const json = readFolderJson(folder, 'tokenizer.json', 'Tokenizer file');
  const ids = vocabularyIds(json, file);
  const special = (token: string) => {
    const id = ids.get(token);
    return id === undefined ? invalidData(`${file} has no ${token} token.`) : id;
  };
  const padId = special('<pad>');
  const eosId = special('</s>');
  const unkId = special('<unk>');
  const config = folder.has('tokenizer_config.json')
    ? readFolderJson(folder, 'tokenizer_config.json', 'Tokenizer file')
    : {};
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    invalidData(`${folderPath(folder, 'tokenizer_config.json')}: not a JSON object.`);
  }
  const transformers = await import('@huggingface/transformers');
  let tokenizer: InstanceType<typeof transformers.PreTrainedTokenizer>;
  try {
    // AutoTokenizer.from_pretrained without its file loading: the class `tokenizer_class` names (without `Fast`),
    // else the base class, built from the parsed files.
    const className = (config as { tokenizer_class?: unknown }).tokenizer_class;
    const named =
      typeof className === 'string'
        ? (transformers as unknown as Record<string, unknown>)[className.replace(/Fast$/, '')]
        : undefined;
    const Base = transformers.PreTrainedTokenizer;
    const Class =
      typeof named === 'function' && (named === Base || named.prototype instanceof Base)
        ? (named as typeof Base)
        : Base;
    tokenizer = new Class(json, config);
  } catch (error) {
    if (error instanceof EncouragingLossError) throw error;
    return invalidData(
      `${file}: transformers.js cannot load it (${(error as Error)?.message ?? String(error)}).`,
    );
  }
  const encode = (text: string) =>
    guarded(file, 'encode', () => Array.from(tokenizer.encode(text) as number[]));
  return {
    vocabSize: ids.size,
    padId,
    eosId,
    unkId,
    encode,
    encodeSource: encode,
    encodeTarget: encode,
    tokenId: (token) => ids.get(token),
    // transformers.js rejects an empty id list; an empty translation is the empty string.
    decode: (list) =>
      list.length === 0
        ? ''
        : guarded(file, 'decode', () => tokenizer.decode([...list], { skip_special_tokens: true })),
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
