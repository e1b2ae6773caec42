import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { invalidData } from '../errors.js';
import { type MarianConfig, parseConfig, readJson } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { loadFolderTokenizer, tokenizerKind } from '../tokenizers/load.js';
import { MARIAN_TOKENIZER_FILES } from '../tokenizers/marian.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
import { POSITION_KEYS, resolveMarianTensors } from './hf-keys.js';
import { readPytorchBin } from './pytorch-bin.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from './safetensors.js';

/** Files of the app's own BPE tokenizer inside a model folder (`tokenizer.json` first). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/**
 * Weight files of a model folder in the order HF `from_pretrained` prefers them: safetensors, sharded safetensors,
 * PyTorch pickle, sharded PyTorch pickle.
 */
export const WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/**
 * `generation_config.json` for a config, as HF `GenerationConfig.from_model_config` derives it, with the length cap
 * the app decodes with (`max_position_embeddings`: the app never generates past its positions). `bos_token_id` is
 * written only when the config has one (Marian starts from `decoder_start_token_id`; OPUS-MT configs carry 0), and
 * `bad_words_ids` keeps `<pad>` (the decoder start) from being generated.
 */
export function generationConfig(config: MarianConfig): Record<string, unknown> {
  return {
    bad_words_ids: config.bad_words_ids ?? [[config.pad_token_id]],
    ...(config.bos_token_id === undefined || config.bos_token_id === null
      ? {}
      : { bos_token_id: config.bos_token_id }),
    decoder_start_token_id: config.decoder_start_token_id,
    eos_token_id: config.eos_token_id,
    forced_eos_token_id: config.forced_eos_token_id,
    max_length: config.max_position_embeddings,
    num_beams: config.num_beams,
    pad_token_id: config.pad_token_id,
  };
}

/**
 * Writes `config.json`, `generation_config.json` and `model.safetensors` atomically into `dir`, as HF
 * `save_pretrained` would: the config with every field it was read with (an OPUS-MT config keeps its metadata),
 * `decoder_vocab_size` equal to `vocab_size`; the parameters without the static `embed_positions` tables
 * (`_keys_to_ignore_on_save`) and without tied copies (`model.shared.weight` only).
 */
export function saveModel(model: MarianModel, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const config: Record<string, unknown> = { ...model.config, decoder_vocab_size: model.config.vocab_size };
  // The weights are written as float32, whatever dtype the folder was published in.
  for (const key of ['torch_dtype', 'dtype']) if (key in config) config[key] = 'float32';
  writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileAtomic(
    join(dir, 'generation_config.json'),
    `${JSON.stringify(generationConfig(model.config), null, 2)}\n`,
  );
  const tensors = model.toNamedTensors();
  for (const key of POSITION_KEYS) tensors.delete(key);
  writeFileAtomic(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
}

/** Reads `config.json` of a model folder (HF defaults for absent fields, unsupported values refused). */
export function readConfig(dir: string): MarianConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) invalidData(`${dir} is not a model folder: ${path} is missing.`);
  return parseConfig(readJson(path), path);
}

/** The weights file `dir` holds, by {@link WEIGHT_FILES} preference, or `undefined`. */
export function findWeights(dir: string): string | undefined {
  const file = WEIGHT_FILES.find((name) => existsSync(join(dir, name)));
  return file && join(dir, file);
}

function readWeightFile(file: string): Map<string, NamedTensor> {
  if (!existsSync(file)) invalidData(`Weights file ${file} is missing.`);
  const bytes = readFileSync(file);
  return file.endsWith('.bin') ? readPytorchBin(bytes, file) : readSafetensors(bytes, file).tensors;
}

/** Reads a sharded checkpoint from its `*.index.json` (`weight_map`: tensor name → shard file). */
function readSharded(index: string): Map<string, NamedTensor> {
  const parsed = readJson(index) as { weight_map?: Record<string, string> };
  const map = parsed?.weight_map;
  if (!map || typeof map !== 'object') return invalidData(`${index}: no weight_map.`);
  const out = new Map<string, NamedTensor>();
  for (const shard of new Set(Object.values(map))) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      invalidData(`${index}: shard ${String(shard)} is not a file name beside the index.`);
    }
    for (const [name, tensor] of readWeightFile(join(dirname(index), shard))) {
      if (map[name] !== shard)
        invalidData(`${index}: ${shard} holds ${name}, which the weight_map does not place there.`);
      out.set(name, tensor);
    }
  }
  for (const name of Object.keys(map)) {
    if (!out.has(name)) invalidData(`${index}: ${name} is not in ${map[name]}.`);
  }
  return out;
}

/**
 * Reads the raw tensors of a weights file or of a model folder (by {@link WEIGHT_FILES} preference). A
 * `model.safetensors` path that does not exist reads its folder instead, as `from_pretrained` falls back from
 * `model.safetensors` to `pytorch_model.bin` (many OPUS-MT repos have only the latter).
 */
export function readWeights(fileOrDir: string): Map<string, NamedTensor> {
  if (
    basename(fileOrDir) === 'model.safetensors' &&
    !existsSync(fileOrDir) &&
    findWeights(dirname(fileOrDir))
  ) {
    return readWeights(dirname(fileOrDir));
  }
  let file = fileOrDir;
  if (existsSync(fileOrDir) && !fileOrDir.match(/\.(safetensors|bin|json)$/)) {
    const found = findWeights(fileOrDir);
    if (!found) invalidData(`${fileOrDir} has no weights (${WEIGHT_FILES.join(', ')}).`);
    file = found as string;
  }
  return file.endsWith('.index.json') ? readSharded(file) : readWeightFile(file);
}

/**
 * Loads weights into `model` from a weights file (`model.safetensors`, `pytorch_model.bin`, a sharded
 * `*.index.json`) or a model folder, resolving HF key conventions (tied copies, optional `final_logits_bias` and
 * positions) as `from_pretrained` does. Everything wrong is `INVALID_DATA` naming the file.
 */
export function loadWeights(model: MarianModel, fileOrDir: string): void {
  const tensors = readWeights(fileOrDir);
  const resolved = resolveMarianTensors(tensors, model.config, modelTensorNames(model), fileOrDir);
  try {
    model.loadNamedTensors(resolved, fileOrDir);
  } catch (error) {
    invalidData((error as Error).message);
  }
}

/** Names of the model's parameters and fixed buffers (`final_logits_bias`), as HF names them. */
export function modelTensorNames(model: MarianModel): string[] {
  const buffers = (model as { buffers?: ReadonlyMap<string, unknown> }).buffers;
  return [...model.params.keys(), ...(buffers?.keys() ?? [])];
}

/** Options of {@link loadModelFolder}. */
export interface LoadModelOptions {
  /** Target-language token (`>>deu<<`) of a multilingual model, put before every source sentence. */
  targetToken?: string;
}

/**
 * Loads a model folder: config, weights and tokenizer. Reads the app's own folders and OPUS-MT / HF Marian folders
 * as published (`config.json`; `model.safetensors`, sharded safetensors or `pytorch_model.bin`; `source.spm` +
 * `target.spm` + `vocab.json`, or a `tokenizer.json`). The tokenizer's special ids must be the config's.
 */
export async function loadModelFolder(
  dir: string,
  options: LoadModelOptions = {},
): Promise<{ model: MarianModel; tokenizer: SubwordTokenizer }> {
  const config = readConfig(dir);
  const tokenizer = await loadFolderTokenizer(dir, options);
  checkTokenizer(tokenizer, config, dir);
  const model = new MarianModel(config, new Rng(0));
  try {
    loadWeights(model, dir);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer };
}

/** A tokenizer fits a config when its ids fit the embedding and its `<pad>`/`</s>` are the config's. */
export function checkTokenizer(tokenizer: SubwordTokenizer, config: MarianConfig, dir: string): void {
  if (tokenizer.vocabSize > config.vocab_size) {
    invalidData(
      `${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.vocab_size is ${config.vocab_size}.`,
    );
  }
  if (tokenizer.padId !== config.pad_token_id || tokenizer.eosId !== config.eos_token_id) {
    invalidData(
      `${dir}: tokenizer has <pad>=${tokenizer.padId} </s>=${tokenizer.eosId} but config.pad_token_id is ${config.pad_token_id} and eos_token_id ${config.eos_token_id}.`,
    );
  }
}

/**
 * Copies the tokenizer files of one folder to another: OPUS-MT's `source.spm`, `target.spm`, `vocab.json`,
 * `tokenizer_config.json`, `special_tokens_map.json` (so the written folder still loads in Python
 * `MarianTokenizer`), plus a `tokenizer.json` when there is one; or the app's own `tokenizer.json` +
 * `tokenizer_config.json`.
 */
export function copyTokenizer(from: string, to: string): void {
  const kind = tokenizerKind(from);
  if (!kind) invalidData(`${from} has no tokenizer: neither source.spm + vocab.json nor tokenizer.json.`);
  const required = kind === 'marian' ? MARIAN_TOKENIZER_FILES.slice(0, 3) : TOKENIZER_FILES;
  const optional = kind === 'marian' ? [...MARIAN_TOKENIZER_FILES.slice(3), 'tokenizer.json'] : [];
  mkdirSync(to, { recursive: true });
  for (const file of required) {
    if (!existsSync(join(from, file))) invalidData(`${from} has no ${file}.`);
    copyFileSync(join(from, file), join(to, file));
  }
  for (const file of optional)
    if (existsSync(join(from, file))) copyFileSync(join(from, file), join(to, file));
}
