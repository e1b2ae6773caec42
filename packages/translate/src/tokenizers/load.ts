import { invalidData, invalidOption } from '../errors.js';
import { type Folder, folderPath } from '../store/folder.js';
import { loadMarianTokenizer, MARIAN_TOKENIZER_FILES, type MarianTokenizerOptions } from './marian.js';
import type { SubwordTokenizer } from './tokenizer.js';
import { loadTokenizerJson } from './tokenizer-json.js';

/** Tokenizer files a model folder may carry, in the order they are looked for. */
export const FOLDER_TOKENIZER_FILES = [...MARIAN_TOKENIZER_FILES, 'tokenizer.json'] as const;

/** Which tokenizer a folder carries: OPUS-MT SentencePiece files, a `tokenizer.json`, or none. */
export function tokenizerKind(folder: Folder): 'marian' | 'tokenizer.json' | undefined {
  if (folder.has('source.spm') && folder.has('vocab.json')) return 'marian';
  if (folder.has('tokenizer.json')) return 'tokenizer.json';
  return undefined;
}

/**
 * The tokenizer of a model folder: `source.spm` + `target.spm` + `vocab.json` (OPUS-MT as published, read as HF
 * `MarianTokenizer` does) when present, else `tokenizer.json` through transformers.js (the app's own BPE folders,
 * and converted folders such as Xenova/opus-mt-*; `targetToken` is then prepended by id).
 */
export async function loadFolderTokenizer(
  folder: Folder,
  options: MarianTokenizerOptions = {},
): Promise<SubwordTokenizer> {
  const kind = tokenizerKind(folder);
  if (kind === 'marian') return loadMarianTokenizer(folder, options);
  if (kind === undefined) {
    return invalidData(
      `${folder.name} has no tokenizer: neither source.spm + vocab.json nor tokenizer.json.`,
    );
  }
  const tokenizer = await loadTokenizerJson(folder);
  if (options.targetToken === undefined) return tokenizer;
  const id = tokenizer.tokenId?.(options.targetToken);
  if (id === undefined) {
    return invalidOption(
      `--target-token ${options.targetToken} is not in ${folderPath(folder, 'tokenizer.json')}.`,
    );
  }
  const encodeSource = (text: string) => [id, ...tokenizer.encodeSource(text)];
  return { ...tokenizer, encodeSource, encode: encodeSource };
}
