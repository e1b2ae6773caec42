import { floatValues, sameBits, withModelPrefix } from '../../checkpoint/hf-keys.js';
import { readWeights } from '../../checkpoint/model-folder.js';
import { type NamedTensor, writeSafetensors } from '../../checkpoint/safetensors.js';
import { invalidData } from '../../errors.js';
import { Rng } from '../../rng.js';
import { type Folder, folderPath, readFolderJson, type WritableFolder } from '../../store/folder.js';
import { type M2M100Config, parseM2M100Config } from './configuration.js';
import { M2M100Model, m2m100SinusoidalTable } from './modeling.js';
import {
  type LanguagePair,
  loadM2M100FamilyTokenizer,
  type M2M100FamilyTokenizer,
  m2m100TokenizerKind,
} from './tokenization.js';

/** Keys HF ties to `model.shared.weight` in `M2M100ForConditionalGeneration`; a checkpoint may carry any of them. */
export const M2M100_TIED_KEYS = [
  'model.shared.weight',
  'model.encoder.embed_tokens.weight',
  'model.decoder.embed_tokens.weight',
  'lm_head.weight',
] as const;

/**
 * Maps the tensors of an HF M2M100-family checkpoint to the model's parameter names `expected`, as
 * `M2M100ForConditionalGeneration.from_pretrained` resolves them:
 * - a bare `M2M100Model` checkpoint (keys without `model.`) gets the prefix;
 * - the shared embedding comes from whichever of {@link M2M100_TIED_KEYS} is present (present copies must agree);
 * - `final_logits_bias` (a zero buffer in early versions) must be all zeros and is dropped; the
 *   `encoder.version`/`decoder.version` markers are dropped;
 * - saved `embed_positions` tables must be HF's sinusoids (`m2m100SinusoidalTable`, within 1e-6) and are dropped.
 * Any other key outside `expected` is `INVALID_DATA` naming it.
 */
export function resolveM2M100Tensors(
  input: ReadonlyMap<string, NamedTensor>,
  config: M2M100Config,
  expected: Iterable<string> | undefined,
  source: string,
): Map<string, NamedTensor> {
  const tensors = withModelPrefix(input);
  const out = new Map<string, NamedTensor>();
  let shared: { name: string; data: Float32Array; shape: number[] } | undefined;
  for (const name of M2M100_TIED_KEYS) {
    const tensor = tensors.get(name);
    if (!tensor) continue;
    tensors.delete(name);
    const data = floatValues(tensor, name, source, 'M2M100');
    if (!shared) shared = { name, data, shape: tensor.shape };
    else if (tensor.shape.join() !== shared.shape.join() || !sameBits(data, shared.data)) {
      invalidData(`${source}: ${name} differs from ${shared.name}, but M2M100 ties them.`);
    }
  }
  if (shared) out.set('model.shared.weight', { dtype: 'F32', shape: shared.shape, data: shared.data });
  const bias = tensors.get('final_logits_bias');
  if (bias) {
    tensors.delete('final_logits_bias');
    if (floatValues(bias, 'final_logits_bias', source, 'M2M100').some((v) => v !== 0)) {
      invalidData(
        `${source}: final_logits_bias is not zero; M2M100ForConditionalGeneration has no logits bias.`,
      );
    }
  }
  for (const name of ['model.encoder.version', 'model.decoder.version']) tensors.delete(name);
  for (const [name, tensor] of [...tensors]) {
    if (!/^model\.(encoder|decoder)\.embed_positions\./.test(name)) continue;
    tensors.delete(name);
    const [rows, dim] = tensor.shape;
    if (tensor.shape.length !== 2 || dim !== config.d_model) {
      invalidData(
        `${source}: ${name} has shape [${tensor.shape}], positions need [rows, ${config.d_model}].`,
      );
    }
    const data = floatValues(tensor, name, source, 'M2M100');
    const table = m2m100SinusoidalTable(rows, dim, config.pad_token_id);
    const bad = data.findIndex((v, i) => !(Math.abs(v - table[i]) <= 1e-6));
    if (bad >= 0) {
      invalidData(
        `${source}: ${name} is not M2M100's sinusoidal table (element ${bad}: ${data[bad]} vs ${table[bad]}).`,
      );
    }
  }
  const wanted = expected && new Set(expected);
  for (const [name, tensor] of tensors) {
    if (wanted && !wanted.has(name))
      invalidData(`${source}: tensor ${name} is not a parameter of M2M100 with this config.`);
    out.set(name, { dtype: 'F32', shape: tensor.shape, data: floatValues(tensor, name, source, 'M2M100') });
  }
  return out;
}

/** Reads `config.json` of an NLLB-200 / M2M100 folder (`model_type: "m2m_100"`). */
export function readM2M100Config(folder: Folder): M2M100Config {
  const path = folderPath(folder, 'config.json');
  if (!folder.has('config.json')) invalidData(`${folder.name} is not a model folder: ${path} is missing.`);
  return parseM2M100Config(readFolderJson(folder, 'config.json'), path);
}

/**
 * Loads the weights of a folder (`model.safetensors`, `pytorch_model.bin`, sharded with their index; or the
 * weights file `file` in it) into `model`, resolving HF's key conventions ({@link resolveM2M100Tensors}); anything
 * wrong is `INVALID_DATA`.
 */
export function loadM2M100Weights(model: M2M100Model, folder: Folder, file?: string): void {
  const source = file === undefined ? folder.name : folderPath(folder, file);
  const resolved = resolveM2M100Tensors(readWeights(folder, file), model.config, model.params.keys(), source);
  try {
    model.loadNamedTensors(resolved, source);
  } catch (error) {
    invalidData((error as Error).message);
  }
}

/**
 * Loads an NLLB-200 or M2M100 folder as published: config, weights and tokenizer for `languages`. The tokenizer's
 * ids must fit `vocab_size`.
 */
export function loadM2M100Folder(
  folder: Folder,
  languages: LanguagePair = {},
): { model: M2M100Model; tokenizer: M2M100FamilyTokenizer } {
  const dir = folder.name;
  const config = readM2M100Config(folder);
  const tokenizer = loadM2M100FamilyTokenizer(folder, languages);
  if (tokenizer.vocabSize > config.vocab_size) {
    invalidData(
      `${dir}: the tokenizer has ${tokenizer.vocabSize} ids but config.vocab_size is ${config.vocab_size}.`,
    );
  }
  if (tokenizer.padId !== config.pad_token_id || tokenizer.eosId !== config.eos_token_id) {
    invalidData(
      `${dir}: tokenizer <pad>=${tokenizer.padId} </s>=${tokenizer.eosId}, config pad_token_id ${config.pad_token_id} eos_token_id ${config.eos_token_id}.`,
    );
  }
  const model = new M2M100Model(config, new Rng(0));
  try {
    loadM2M100Weights(model, folder);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer };
}

/** Tokenizer files of published folders: NLLB-200 (the first one required) and M2M100 (the first two required). */
export const M2M100_TOKENIZER_FILES = {
  nllb: ['sentencepiece.bpe.model', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
  m2m100: ['vocab.json', 'sentencepiece.bpe.model', 'tokenizer_config.json', 'special_tokens_map.json'],
} as const;

/**
 * Writes `config.json`, `generation_config.json` and `model.safetensors` into `folder`, as HF
 * `save_pretrained` does for `M2M100ForConditionalGeneration`: the config with every field it was read with
 * (`torch_dtype` set to float32, the weights' dtype), the parameters under HF's keys with `model.shared.weight`
 * once (no tied copies, no position tables).
 */
export function saveM2M100Model(model: M2M100Model, folder: WritableFolder): void {
  const config: Record<string, unknown> = { ...model.config };
  for (const key of ['torch_dtype', 'dtype']) if (key in config) config[key] = 'float32';
  folder.write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  // GenerationConfig.from_model_config: the special ids, plus the folder's own length cap and beam size.
  const { bos_token_id, decoder_start_token_id, eos_token_id, pad_token_id } = model.config;
  const generation: Record<string, unknown> = {
    bos_token_id,
    decoder_start_token_id,
    eos_token_id,
    pad_token_id,
  };
  for (const key of ['max_length', 'num_beams']) if (key in config) generation[key] = config[key];
  folder.write('generation_config.json', `${JSON.stringify(generation, null, 2)}\n`);
  folder.write('model.safetensors', writeSafetensors(model.toNamedTensors(), { format: 'pt' }));
}

/** Copies an NLLB-200 / M2M100 folder's tokenizer files ({@link M2M100_TOKENIZER_FILES}) from one folder to another. */
export function copyM2M100Tokenizer(from: Folder, to: WritableFolder): void {
  const kind = m2m100TokenizerKind(from);
  if (!kind) invalidData(`${from.name} has no sentencepiece.bpe.model.`);
  const files = M2M100_TOKENIZER_FILES[kind as 'nllb' | 'm2m100'];
  const required = kind === 'nllb' ? 1 : 2;
  files.forEach((file, i) => {
    if (from.has(file)) to.write(file, from.read(file));
    else if (i < required) invalidData(`${from.name} has no ${file}.`);
  });
}
