import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readJsonFile } from '../data/data.js';
import { invalidData, invalidOption } from '../errors.js';
import { checkConfigFitsWeights, type MarianConfig, parseConfig, readJson } from '../model/config.js';
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
import { tokenizerKind } from '../tokenizers/load.js';
import { MARIAN_TOKENIZER_FILES } from '../tokenizers/marian.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
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
 * Writes a Marian model's `config.json`, `generation_config.json` and `model.safetensors` atomically into `dir`, as
 * HF `save_pretrained` would: the config with every field it was read with (an OPUS-MT config keeps its metadata),
 * `decoder_vocab_size` equal to `vocab_size`; the parameters without the static `embed_positions` tables
 * (`_keys_to_ignore_on_save`) and without tied copies (`model.shared.weight` only).
 */
export function saveMarianModel(model: MarianModel, dir: string): void {
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

/**
 * Writes a model of any family into `dir` as HF `save_pretrained` does for it (`config.json`,
 * `generation_config.json`, `model.safetensors`): Marian by {@link saveModel}, NLLB-200 / M2M100 by
 * `saveM2M100Model` (whose config must not gain Marian's `decoder_vocab_size`).
 */
export function saveModel(model: Seq2SeqModel, dir: string): void {
  modelFamily(model.config, dir).saveFolder(model, dir);
}

/**
 * Checks that `dir` is an existing folder: `INVALID_DATA` naming it when it does not exist or is a file
 * (`what` names its role: `Model folder`, `--init folder`).
 */
export function checkFolder(dir: string, what = 'Model folder'): void {
  if (!existsSync(dir)) invalidData(`${what} ${dir} does not exist.`);
  if (!statSync(dir).isDirectory()) invalidData(`${what} ${dir} is a file; expected a folder.`);
}

/**
 * Reads `config.json` of a model folder (HF defaults for absent fields, unsupported values refused). A folder
 * that does not exist, a file, a missing `config.json` or one that is not JSON (`file:line:column`) is
 * `INVALID_DATA` naming it.
 */
export function readConfig(dir: string, what = 'Model folder'): MarianConfig {
  checkFolder(dir, what);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) invalidData(`${dir} is not a model folder: ${path} is missing.`);
  return parseConfig(readJsonFile(path, 'Model config'), path);
}

/**
 * Reads `config.json` of a model folder of any supported family (see `MODEL_FAMILIES`): its family, by
 * `model_type`, and the config as that family parses it. A missing folder or file, a file that is not JSON, an
 * unsupported `model_type` or field is `INVALID_DATA` naming it (`what` names the folder's role).
 */
export function readModelConfig(
  dir: string,
  what = 'Model folder',
): { family: ModelFamily; config: Seq2SeqConfig } {
  checkFolder(dir, what);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) invalidData(`${dir} is not a model folder: ${path} is missing.`);
  const raw = readJsonFile(path, 'Model config');
  const family = modelFamily(raw, path);
  return { family, config: family.parseConfig(raw, path) };
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
export function loadWeights(model: Seq2SeqModel, fileOrDir: string): void {
  const tensors = readWeights(fileOrDir);
  const family = modelFamily(model.config, fileOrDir);
  const resolved = family.resolveTensors(tensors, model.config, modelTensorNames(model), fileOrDir);
  try {
    model.loadNamedTensors(resolved, fileOrDir);
  } catch (error) {
    invalidData((error as Error).message);
  }
}

/** Names of the model's parameters and fixed buffers (`final_logits_bias`), as HF names them. */
export function modelTensorNames(model: Seq2SeqModel): string[] {
  const buffers = (model as { buffers?: ReadonlyMap<string, unknown> }).buffers;
  return [...model.params.keys(), ...(buffers?.keys() ?? [])];
}

/** Options of {@link loadModelFolder}: the language choices of the folder's family (see {@link loadModelTokenizer}). */
export type LoadModelOptions = TokenizerOptions;

/**
 * The tokenizer of a model folder for `options`, checked against its family: a Marian folder takes `targetToken`
 * (a multilingual OPUS-MT model's `>>deu<<`) and refuses `srcLang`/`tgtLang` (its language pair is fixed); an
 * NLLB-200 / M2M100 folder needs both `srcLang` and `tgtLang` (`--src-lang eng_Latn --tgt-lang deu_Latn`) and
 * refuses `targetToken`. Each refusal, and an unknown language code, is `INVALID_OPTION` naming the valid codes.
 */
export async function loadModelTokenizer(
  dir: string,
  options: LoadModelOptions = {},
  family: ModelFamily = readModelConfig(dir).family,
): Promise<SubwordTokenizer> {
  if (family.modelType !== 'm2m_100') {
    if (options.srcLang !== undefined || options.tgtLang !== undefined) {
      invalidOption(
        `--src-lang/--tgt-lang choose the languages of an NLLB-200 or M2M100 model; ${dir} is a ${family.architecture} (model_type ${family.modelType}) model, whose language pair is fixed (a multilingual OPUS-MT model takes --target-token >>deu<<).`,
      );
    }
    return family.loadTokenizer(dir, options);
  }
  if (options.targetToken !== undefined) {
    invalidOption(
      `--target-token is for multilingual OPUS-MT models; ${dir} is an NLLB-200 / M2M100 model: choose its languages with --src-lang and --tgt-lang.`,
    );
  }
  const tokenizer = (await family.loadTokenizer(dir, options)) as M2M100FamilyTokenizer;
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
 */
export async function loadModelFolder(
  dir: string,
  options: LoadModelOptions = {},
): Promise<{ model: Seq2SeqModel; tokenizer: SubwordTokenizer }> {
  const { family, config } = readModelConfig(dir);
  // The sizes config.json claims are bounded by the weights beside it, before any parameter is allocated.
  if (family.modelType === 'marian') {
    checkConfigFitsWeights(config as MarianConfig, weightBytes(dir), join(dir, 'config.json'));
  }
  const tokenizer = await loadModelTokenizer(dir, options, family);
  checkTokenizer(tokenizer, config, dir);
  const model = family.create(config, new Rng(0));
  try {
    loadWeights(model, dir);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer };
}

/** Bytes of the weight files in a model folder (`*.safetensors`, `*.bin`, shards included). */
function weightBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.safetensors') || name.endsWith('.bin')) total += statSync(join(dir, name)).size;
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
