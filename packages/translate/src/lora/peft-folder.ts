import { createFromWeights, readModelConfig, saveModel } from '../checkpoint/model-folder.js';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js';
import { invalidData, withIo } from '../errors.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { Rng } from '../rng.js';
import { type Folder, folderPath, readFolderJson, type WritableFolder } from '../store/folder.js';
import { LoraAdapters, type LoraSettings, withMergedWeights } from './lora.js';

/** PEFT's `CONFIG_NAME`. */
export const ADAPTER_CONFIG = 'adapter_config.json';
/** PEFT's `SAFETENSORS_WEIGHTS_NAME`. */
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/**
 * `adapter_config.json` as PEFT's `LoraConfig.save_pretrained` writes it for a LoRA adapter of a seq2seq model
 * (the fields `PeftConfig.from_pretrained` reads, at their defaults where LoRA leaves them alone).
 */
export function peftAdapterConfig(settings: LoraSettings, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: settings.r,
    rank_pattern: {},
    revision: null,
    target_modules: typeof settings.targets === 'string' ? settings.targets : [...settings.targets].sort(),
    task_type: 'SEQ_2_SEQ_LM',
    use_dora: false,
    use_rslora: settings.rslora ?? false,
  };
}

/**
 * Writes the model's adapters into `folder` as PEFT's `save_pretrained` does: `adapter_config.json` (with
 * `base_model_name_or_path` = `baseModel`: a Hub id or the base folder) and `adapter_model.safetensors` with
 * PEFT's keys (`base_model.model.model.encoder.layers.0.self_attn.q_proj.lora_A.weight`, no adapter name).
 */
export function saveAdapter(model: Seq2SeqModel, folder: WritableFolder, baseModel: string): void {
  const lora = model.lora;
  if (!lora) throw new Error('saveAdapter: the model has no LoRA adapters.');
  folder.write(ADAPTER_CONFIG, `${JSON.stringify(peftAdapterConfig(lora.settings, baseModel), null, 2)}\n`);
  folder.write(ADAPTER_WEIGHTS, writeSafetensors(lora.toPeftTensors(), { format: 'pt' }));
}

/** Writes the model with its adapters merged (W + s · B A) as a full HF folder (`saveModel`); the model is unchanged. */
export function saveMergedModel(model: Seq2SeqModel, folder: WritableFolder): void {
  withMergedWeights(model, () => saveModel(model, folder));
}

/** Whether `folder` is a PEFT adapter folder (it has `adapter_config.json`). */
export function isAdapterFolder(folder: Folder): boolean {
  return folder.has(ADAPTER_CONFIG);
}

/** An adapter folder's settings and base model, as its `adapter_config.json` says. */
export interface AdapterConfig {
  settings: LoraSettings;
  /** `base_model_name_or_path` (a Hub id or a folder), `undefined` when absent. */
  baseModel?: string;
}

/**
 * Reads `adapter_config.json` of a PEFT LoRA adapter folder. What this app cannot apply is `INVALID_DATA` naming the
 * file and the field: another `peft_type`, trained biases (`bias` ≠ none), DoRA, `fan_in_fan_out`, per-module
 * ranks or alphas, `modules_to_save`, `layers_to_transform`.
 */
export function readAdapterConfig(folder: Folder): AdapterConfig {
  const path = folderPath(folder, ADAPTER_CONFIG);
  if (!folder.has(ADAPTER_CONFIG))
    invalidData(`${folder.name} is not an adapter folder: ${path} is missing.`);
  const raw = readFolderJson(folder, ADAPTER_CONFIG, 'Adapter config') as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object') return invalidData(`${path}: not a JSON object.`);
  const refuse = (field: string, why: string): never =>
    invalidData(`${path}: ${field} ${JSON.stringify(raw[field])} is not supported (${why}).`);
  if (raw.peft_type !== 'LORA') refuse('peft_type', 'LoRA adapters only');
  if (raw.bias !== undefined && raw.bias !== 'none') refuse('bias', 'adapters with trained biases');
  if (raw.use_dora) refuse('use_dora', 'DoRA');
  if (raw.fan_in_fan_out) refuse('fan_in_fan_out', 'Conv1D layers; these models use nn.Linear');
  for (const field of ['rank_pattern', 'alpha_pattern']) {
    const value = raw[field];
    if (value && typeof value === 'object' && Object.keys(value).length > 0)
      refuse(field, 'one r and alpha for all modules');
  }
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0)
    refuse('modules_to_save', 'LoRA weights only');
  if (raw.layers_to_transform !== undefined && raw.layers_to_transform !== null)
    refuse('layers_to_transform', 'all layers');
  const r = raw.r;
  const alpha = raw.lora_alpha ?? 8;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0)
    refuse('r', 'a positive integer rank is needed');
  if (typeof alpha !== 'number' || !(alpha > 0)) refuse('lora_alpha', 'a positive number is needed');
  const targets = raw.target_modules;
  const list =
    typeof targets === 'string' ? targets : Array.isArray(targets) ? targets.map(String) : undefined;
  if (list === undefined || list.length === 0)
    refuse('target_modules', 'a list of module names or a regex is needed');
  const dropout = typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0;
  return {
    settings: {
      r: r as number,
      alpha: alpha as number,
      dropout,
      targets: list as string[] | string,
      rslora: raw.use_rslora === true,
    },
    baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : undefined,
  };
}

/**
 * Attaches the PEFT LoRA adapter in `folder` to `model` (a base model of the adapter's architecture) without merging:
 * every target linear layer then adds s · x Aᵀ Bᵀ (no dropout outside training). Everything wrong (config, keys,
 * shapes, targets that match no layer) is `INVALID_DATA` naming the file.
 */
export function loadAdapter(model: Seq2SeqModel, folder: Folder): LoraAdapters {
  const { settings } = readAdapterConfig(folder);
  const file = folderPath(folder, ADAPTER_WEIGHTS);
  if (!folder.has(ADAPTER_WEIGHTS))
    invalidData(`${folder.name}: ${ADAPTER_WEIGHTS} is missing (adapter_model.bin is not read).`);
  const tensors = readSafetensors(folder.read(ADAPTER_WEIGHTS), file).tensors;
  let lora: LoraAdapters;
  try {
    lora = new LoraAdapters(model.params, settings, new Rng(0));
  } catch (error) {
    return invalidData(`${folderPath(folder, ADAPTER_CONFIG)}: ${(error as Error).message}`);
  }
  try {
    lora.loadPeftTensors(tensors, file);
  } catch (error) {
    lora.dispose();
    throw error;
  }
  model.lora?.dispose();
  model.lora = lora;
  return lora;
}

/**
 * Merges the adapter folder `adapter` into the base model folder `base` and writes the result as a full HF
 * folder into `out` (config, weights W + s · B A, and the tokenizer of the adapter folder when it has one, else of
 * the base): what `el-translate export` does with an adapter folder before exporting it.
 */
export function mergeAdapterFolder(options: { adapter: Folder; base: Folder; out: WritableFolder }): void {
  const { family, config } = readModelConfig(options.base);
  const model = createFromWeights(options.base, family, config);
  try {
    loadAdapter(model, options.adapter);
    saveMergedModel(model, options.out);
    const from = family.hasTokenizer(options.adapter) ? options.adapter : options.base;
    withIo('copy the tokenizer into', options.out.name, () => family.copyTokenizer(from, options.out));
  } finally {
    model.dispose();
  }
}
