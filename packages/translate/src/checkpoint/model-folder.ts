import { EncouragingLossError } from '@encouraging-loss/core';
import { invalidData, invalidOption } from '../errors.js';
import { checkConfigFitsWeights, type MarianConfig, parseConfig } from '../model/config.js';
import type { MarianModel } from '../model/marian.js';
import type { M2M100FamilyTokenizer } from '../models/m2m100/tokenization.js';
import {
  type ModelFamily,
  modelFamily,
  type Seq2SeqConfig,
  type Seq2SeqModel,
  type TokenizerOptions,
} from '../models/registry.js';
import { Rng } from '../rng.js';
import { type Folder, folderPath, readFolderJson, type WritableFolder } from '../store/folder.js';
import { tokenizerKind } from '../tokenizers/load.js';
import { MARIAN_TOKENIZER_FILES } from '../tokenizers/marian.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { POSITION_KEYS } from './hf-keys.js';
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
 * Writes a Marian model's `config.json`, `generation_config.json` and `model.safetensors` into `folder`, as
 * HF `save_pretrained` would: the config with every field it was read with (an OPUS-MT config keeps its metadata),
 * `decoder_vocab_size` equal to `vocab_size`; the parameters without the static `embed_positions` tables
 * (`_keys_to_ignore_on_save`) and without tied copies (`model.shared.weight` only).
 */
export function saveMarianModel(model: MarianModel, folder: WritableFolder): void {
  const config: Record<string, unknown> = { ...model.config, decoder_vocab_size: model.config.vocab_size };
  // The weights are written as float32, whatever dtype the folder was published in.
  for (const key of ['torch_dtype', 'dtype']) if (key in config) config[key] = 'float32';
  folder.write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  folder.write('generation_config.json', `${JSON.stringify(generationConfig(model.config), null, 2)}\n`);
  const tensors = model.toNamedTensors();
  for (const key of POSITION_KEYS) tensors.delete(key);
  folder.write('model.safetensors', writeSafetensors(tensors, { format: 'pt' }));
}

/**
 * Writes a model of any family into `folder` as HF `save_pretrained` does for it (`config.json`,
 * `generation_config.json`, `model.safetensors`): Marian by {@link saveMarianModel}, NLLB-200 / M2M100 by
 * `saveM2M100Model` (whose config must not gain Marian's `decoder_vocab_size`).
 *
 * @example
 * ```ts
 * saveModel(model, nodeFolder('runs/x/final')); // or memoryFolder('x'), then writeFolder(…, store)
 * ```
 */
export function saveModel(model: Seq2SeqModel, folder: WritableFolder): void {
  modelFamily(model.config, folder.name).saveFolder(model, folder);
}

/** `config.json` of a folder, parsed; a missing file is `INVALID_DATA` (`runs/x is not a model folder: …`). */
function readRawConfig(folder: Folder): { raw: unknown; path: string } {
  const path = folderPath(folder, 'config.json');
  if (!folder.has('config.json')) invalidData(`${folder.name} is not a model folder: ${path} is missing.`);
  return { raw: readFolderJson(folder, 'config.json', 'Model config'), path };
}

/**
 * Reads `config.json` of a Marian model folder (HF defaults for absent fields, unsupported values refused). A
 * missing `config.json` or one that is not JSON (`file:line:column`) is `INVALID_DATA` naming it.
 */
export function readConfig(folder: Folder): MarianConfig {
  const { raw, path } = readRawConfig(folder);
  return parseConfig(raw, path);
}

/**
 * Reads `config.json` of a model folder of any supported family (see `MODEL_FAMILIES`): its family, by
 * `model_type`, and the config as that family parses it. A missing folder or file, a file that is not JSON, an
 * unsupported `model_type` or field is `INVALID_DATA` naming it.
 */
export function readModelConfig(folder: Folder): { family: ModelFamily; config: Seq2SeqConfig } {
  const { raw, path } = readRawConfig(folder);
  const family = modelFamily(raw, path);
  return { family, config: family.parseConfig(raw, path) };
}

/** The weights file a folder holds (its name in the folder), by {@link WEIGHT_FILES} preference, or `undefined`. */
export function findWeights(folder: Folder): string | undefined {
  return WEIGHT_FILES.find((name) => folder.has(name));
}

function readWeightFile(folder: Folder, file: string): Map<string, NamedTensor> {
  const path = folderPath(folder, file);
  if (!folder.has(file)) invalidData(`Weights file ${path} is missing.`);
  const bytes = folder.read(file);
  return file.endsWith('.bin') ? readPytorchBin(bytes, path) : readSafetensors(bytes, path).tensors;
}

/** Reads a sharded checkpoint from its `*.index.json` (`weight_map`: tensor name → shard file beside it). */
function readSharded(folder: Folder, indexFile: string): Map<string, NamedTensor> {
  const index = folderPath(folder, indexFile);
  const base = indexFile.slice(0, indexFile.lastIndexOf('/') + 1);
  const parsed = readFolderJson(folder, indexFile) as { weight_map?: Record<string, string> };
  const map = parsed?.weight_map;
  if (!map || typeof map !== 'object') return invalidData(`${index}: no weight_map.`);
  const out = new Map<string, NamedTensor>();
  for (const shard of new Set(Object.values(map))) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      invalidData(`${index}: shard ${String(shard)} is not a file name beside the index.`);
    }
    for (const [name, tensor] of readWeightFile(folder, base + shard)) {
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
 * Reads the raw tensors of a model folder: its weights file by {@link WEIGHT_FILES} preference, or `file` (a
 * weights file in the folder: `model.safetensors`, `pytorch_model.bin`, a sharded `*.index.json`). A
 * `model.safetensors` that does not exist reads the folder's weights instead, as `from_pretrained` falls back from
 * `model.safetensors` to `pytorch_model.bin` (many OPUS-MT repos have only the latter).
 */
export function readWeights(folder: Folder, file?: string): Map<string, NamedTensor> {
  const fallback = file === 'model.safetensors' && !folder.has(file) && findWeights(folder) !== undefined;
  let name = fallback ? undefined : file;
  if (name === undefined) {
    name = findWeights(folder);
    if (name === undefined) invalidData(`${folder.name} has no weights (${WEIGHT_FILES.join(', ')}).`);
  }
  return name.endsWith('.index.json') ? readSharded(folder, name) : readWeightFile(folder, name);
}

/**
 * Loads weights into `model` from a model folder (or the weights file `file` in it, see {@link readWeights}),
 * resolving HF key conventions (tied copies, optional `final_logits_bias` and positions) as `from_pretrained`
 * does. Everything wrong is `INVALID_DATA` naming the file.
 */
export function loadWeights(model: Seq2SeqModel, folder: Folder, file?: string): void {
  const tensors = readWeights(folder, file);
  const source = file === undefined ? folder.name : folderPath(folder, file);
  const family = modelFamily(model.config, source);
  const resolved = family.resolveTensors(tensors, model.config, modelTensorNames(model), source);
  try {
    model.loadNamedTensors(resolved, source);
  } catch (error) {
    invalidData((error as Error).message);
  }
}

/** Names of the model's parameters and fixed buffers (`final_logits_bias`), as HF names them. */
export function modelTensorNames(model: Seq2SeqModel): string[] {
  const buffers = (model as { buffers?: ReadonlyMap<string, unknown> }).buffers;
  return [...model.params.keys(), ...(buffers?.keys() ?? [])];
}

/**
 * Options of {@link loadModel}: the language choices of the folder's family (see {@link loadModelTokenizer}) and
 * the seed of the generator the model is created with before its weights replace the parameters.
 */
export type LoadModelOptions = TokenizerOptions & { rngSeed?: number };

/**
 * The tokenizer of a model folder for `options`, checked against its family: a Marian folder takes `targetToken`
 * (a multilingual OPUS-MT model's `>>deu<<`) and refuses `srcLang`/`tgtLang` (its language pair is fixed); an
 * NLLB-200 / M2M100 folder needs both `srcLang` and `tgtLang` (`--src-lang eng_Latn --tgt-lang deu_Latn`) and
 * refuses `targetToken`. Each refusal, and an unknown language code, is `INVALID_OPTION` naming the valid codes.
 */
export async function loadModelTokenizer(
  folder: Folder,
  options: TokenizerOptions = {},
  family: ModelFamily = readModelConfig(folder).family,
): Promise<SubwordTokenizer> {
  const dir = folder.name;
  if (family.modelType !== 'm2m_100') {
    if (options.srcLang !== undefined || options.tgtLang !== undefined) {
      invalidOption(
        `--src-lang/--tgt-lang choose the languages of an NLLB-200 or M2M100 model; ${dir} is a ${family.architecture} (model_type ${family.modelType}) model, whose language pair is fixed (a multilingual OPUS-MT model takes --target-token >>deu<<).`,
      );
    }
    return family.loadTokenizer(folder, options);
  }
  if (options.targetToken !== undefined) {
    invalidOption(
      `--target-token is for multilingual OPUS-MT models; ${dir} is an NLLB-200 / M2M100 model: choose its languages with --src-lang and --tgt-lang.`,
    );
  }
  const tokenizer = (await family.loadTokenizer(folder, options)) as M2M100FamilyTokenizer;
  const missing = [
    options.srcLang === undefined ? '--src-lang' : '',
    options.tgtLang === undefined ? '--tgt-lang' : '',
  ].filter(Boolean);
  if (missing.length > 0) {
    const [src, tgt] = tokenizer.family === 'nllb' ? ['eng_Latn', 'deu_Latn'] : ['en', 'de'];
    invalidOption(
      `${dir} is a multilingual ${tokenizer.family === 'nllb' ? 'NLLB-200' : 'M2M100'} model: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required (e.g. --src-lang ${src} --tgt-lang ${tgt}); valid codes: ${tokenizer.languageCodes.join(', ')}.`,
    );
  }
  return tokenizer;
}

/**
 * Loads a model folder of any supported family (`model_type`: `marian`, `m2m_100`): config, weights and
 * tokenizer. Reads the app's own folders, OPUS-MT / HF Marian folders and NLLB-200 / M2M100 folders as published
 * (`config.json`; `model.safetensors`, sharded safetensors or `pytorch_model.bin`; `source.spm` + `target.spm` +
 * `vocab.json`, a `tokenizer.json`, or `sentencepiece.bpe.model`). The tokenizer's special ids must be the
 * config's; `options` as {@link loadModelTokenizer} takes them.
 *
 * @example
 * ```ts
 * const { model, tokenizer } = await loadModel(nodeFolder('opus-mt-en-de')); // Node
 * const { model, tokenizer } = await loadModel(await readFolder(new HttpStore(url))); // browser
 * ```
 */
export async function loadModel(
  folder: Folder,
  options: LoadModelOptions = {},
): Promise<{ model: Seq2SeqModel; tokenizer: SubwordTokenizer; family: ModelFamily }> {
  const { family, config } = readModelConfig(folder);
  // The sizes config.json claims are bounded by the weights beside it, before any parameter is allocated.
  if (family.modelType === 'marian') {
    checkConfigFitsWeights(config as MarianConfig, weightBytes(folder), folderPath(folder, 'config.json'));
  }
  const { rngSeed, ...tokenizerOptions } = options;
  const tokenizer = await loadModelTokenizer(folder, tokenizerOptions, family);
  checkTokenizer(tokenizer, config, folder.name);
  const model = createFromWeights(folder, family, config, rngSeed);
  return { model, tokenizer, family };
}

/**
 * A model of `family` created from the weights of `folder` (resolved as `from_pretrained` resolves them): one copy
 * of them in tfjs's heap, no random values drawn (see `InitialValues`). A missing parameter, another shape or a
 * tensor the model does not have is `INVALID_DATA` naming the file. `rngSeed` seeds what the model draws later.
 */
export function createFromWeights(
  folder: Folder,
  family: ModelFamily,
  config: Seq2SeqConfig,
  rngSeed = 0,
): Seq2SeqModel {
  const source = folder.name;
  const resolved = family.resolveTensors(readWeights(folder), config, undefined, source);
  let model: Seq2SeqModel;
  try {
    model = family.create(config, new Rng(rngSeed), { tensors: resolved, source });
  } catch (error) {
    // The constructor's own refusals (a missing parameter, another shape) are plain errors naming the file.
    if (error instanceof EncouragingLossError) throw error;
    return invalidData((error as Error).message);
  }
  const names = new Set(modelTensorNames(model));
  const stray = [...resolved.keys()].find((name) => !names.has(name));
  if (stray !== undefined) {
    model.dispose();
    invalidData(`${source}: tensor ${stray} is not a parameter of ${family.architecture} with this config.`);
  }
  return model;
}

/** Bytes of the weight files in a model folder (`*.safetensors`, `*.bin`, shards included). */
function weightBytes(folder: Folder): number {
  let total = 0;
  for (const name of folder.list()) {
    if (name.includes('/') || !(name.endsWith('.safetensors') || name.endsWith('.bin'))) continue;
    total += folder.size ? folder.size(name) : folder.read(name).length;
  }
  return total;
}

/** A tokenizer fits a config when its ids fit the embedding and its `<pad>`/`</s>` are the config's. */
export function checkTokenizer(tokenizer: SubwordTokenizer, config: Seq2SeqConfig, dir: string): void {
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
export function copyTokenizer(from: Folder, to: WritableFolder): void {
  const kind = tokenizerKind(from);
  if (!kind)
    invalidData(`${from.name} has no tokenizer: neither source.spm + vocab.json nor tokenizer.json.`);
  const required = kind === 'marian' ? MARIAN_TOKENIZER_FILES.slice(0, 3) : TOKENIZER_FILES;
  const optional = kind === 'marian' ? [...MARIAN_TOKENIZER_FILES.slice(3), 'tokenizer.json'] : [];
  for (const file of required) if (!from.has(file)) invalidData(`${from.name} has no ${file}.`);
  for (const file of [...required, ...optional]) if (from.has(file)) to.write(file, from.read(file));
}
