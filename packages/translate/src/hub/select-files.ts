/** Configuration files a translation model folder may have; `config.json` is required. */
export const HUB_CONFIG_FILES = ['config.json', 'generation_config.json'] as const;

/**
 * Tokenizer files fetched when the repository has them: OPUS-MT's SentencePiece pair and vocabulary, the `tokenizer.json`
 * of converted folders, and NLLB/M2M100's `sentencepiece.bpe.model`.
 */
export const HUB_TOKENIZER_FILES = [
  'source.spm',
  'target.spm',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'sentencepiece.bpe.model',
] as const;

/**
 * Weight files in the order HF `from_pretrained` prefers them; only the first one the repository has is fetched
 * (a `*.index.json` brings the shards its `weight_map` names). TensorFlow, Flax, Rust and ONNX weights never are.
 */
export const HUB_WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/** What to fetch from a repository file list. */
export interface ModelFileSelection {
  /** Files to fetch, top-level names only: configuration, tokenizer, then the weights (largest last). */
  files: string[];
  /** The sharded checkpoint's index among `files`, whose shards are to be added once it is read. */
  weightIndex?: string;
}

/**
 * Picks from a repository's file list (`siblings[].rfilename`) the files a translation model needs, or says what is
 * missing: `config.json`, one weights format, and the tokenizer files that exist (at least one complete tokenizer:
 * `source.spm` + `target.spm` + `vocab.json`, `tokenizer.json` or `sentencepiece.bpe.model`). Files in sub-folders (`onnx/`) and
 * every other format (`tf_model.h5`, `rust_model.ot`, `flax_model.msgpack`) are left out.
 *
 * @returns the selection, or a string naming what the repository lacks.
 * @example
 * ```ts
 * selectModelFiles(['config.json', 'pytorch_model.bin', 'tf_model.h5', 'tokenizer.json', 'README.md']);
 * // → { files: ['config.json', 'tokenizer.json', 'pytorch_model.bin'] }
 * ```
 */
export function selectModelFiles(repositoryFiles: readonly string[]): ModelFileSelection | string {
  const present = new Set(repositoryFiles);
  if (!present.has('config.json')) return 'no config.json';
  const weights = HUB_WEIGHT_FILES.find((file) => present.has(file));
  if (!weights) return `no weights in a format this tool reads (${HUB_WEIGHT_FILES.join(', ')})`;
  const tokenizer =
    (present.has('source.spm') && present.has('target.spm') && present.has('vocab.json')) ||
    present.has('tokenizer.json') ||
    present.has('sentencepiece.bpe.model');
  if (!tokenizer)
    return 'no tokenizer (source.spm + target.spm + vocab.json, tokenizer.json or sentencepiece.bpe.model)';
  const files = [
    ...HUB_CONFIG_FILES.filter((file) => present.has(file)),
    ...HUB_TOKENIZER_FILES.filter((file) => present.has(file)),
    weights,
  ];
  return weights.endsWith('.index.json') ? { files, weightIndex: weights } : { files };
}

/**
 * The shard files a sharded checkpoint's index names (`weight_map` values), each checked to be a plain file name the
 * repository has: an index cannot point outside the snapshot.
 *
 * @returns the shards in first-use order, or a string naming the problem.
 */
export function shardsOfIndex(indexText: string, repositoryFiles: readonly string[]): string[] | string {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(indexText) as { weight_map?: unknown }).weight_map;
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  if (typeof weightMap !== 'object' || weightMap === null) return 'has no weight_map object';
  const present = new Set(repositoryFiles);
  const shards = [...new Set(Object.values(weightMap as Record<string, unknown>))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard) || shard === '.' || shard === '..') {
      return `names a shard that is not a plain file name: ${JSON.stringify(shard)}`;
    }
    if (!present.has(shard)) return `names shard '${shard}', which the repository does not have`;
  }
  if (shards.length === 0) return 'has an empty weight_map';
  return shards as string[];
}
