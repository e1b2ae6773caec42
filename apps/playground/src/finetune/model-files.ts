import { type ModelStore, readText } from '@encouraging-loss/translate';

/** The small files a Marian / NLLB-200 / M2M100 folder may hold: config and every tokenizer layout. */
export const SMALL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'source.spm',
  'target.spm',
  'vocab.json',
  'sentencepiece.bpe.model',
];

/** Weight files in the order HF `from_pretrained` prefers them. */
const WEIGHTS = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
];

/**
 * The files of a model folder worth reading: the small ones and one set of weights (the first of {@link WEIGHTS}
 * there, with its shards). A Hub snapshot often carries the same weights three times (safetensors, PyTorch, TF):
 * reading only one keeps a 300 MB model at 300 MB in the page. Works on stores that cannot list (HTTP).
 */
export async function modelFiles(store: ModelStore, signal?: AbortSignal): Promise<string[]> {
  for (const name of WEIGHTS) {
    if (!(await store.exists(name, { signal }))) continue;
    if (!name.endsWith('.index.json')) return [...SMALL_FILES, name];
    const index = JSON.parse(await readText(store, name, { signal })) as {
      weight_map?: Record<string, string>;
    };
    return [...SMALL_FILES, name, ...new Set(Object.values(index.weight_map ?? {}))];
  }
  // No weights: the loader names what is missing.
  return SMALL_FILES;
}

/** Whether a picked file (path inside the folder) may be one of {@link modelFiles}: read only those into memory. */
export function mayBeModelFile(path: string): boolean {
  return !path.includes('/') && (SMALL_FILES.includes(path) || /\.(safetensors|bin|index\.json)$/.test(path));
}
