import type * as tf from '@tensorflow/tfjs-core';
import { resolveMarianTensors } from '../checkpoint/hf-keys.js';
import { copyTokenizer, saveMarianModel } from '../checkpoint/model-folder.js';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import { invalidData } from '../errors.js';
import type { LoraAdapters } from '../lora/lora.js';
import { type MarianConfig, parseConfig } from '../model/config.js';
import { type DecoderState, MarianModel } from '../model/marian.js';
import type { Rng } from '../rng.js';
import type { Folder, WritableFolder } from '../store/folder.js';
import { loadFolderTokenizer, tokenizerKind } from '../tokenizers/load.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import type { InitialValues } from './initial-values.js';
import { copyM2M100Tokenizer, resolveM2M100Tensors, saveM2M100Model } from './m2m100/checkpoint.js';
import { type M2M100Config, parseM2M100Config } from './m2m100/configuration.js';
import { M2M100Model } from './m2m100/modeling.js';
import { loadM2M100FamilyTokenizer, m2m100TokenizerKind } from './m2m100/tokenization.js';

/**
 * Encoder output as the decoder takes it: hidden states `[B, S, d]` and the source padding bias `[B, 1, 1, S]`. A
 * type, not an interface, so that it is a `tf.TensorContainer` (`tf.tidy` may return it).
 */
export type Encoded = {
  hidden: tf.Tensor3D;
  bias: tf.Tensor4D;
};

/** The config fields every family shares (HF names), which the trainer, scorer and decoder read. */
export interface Seq2SeqConfig {
  model_type: string;
  vocab_size: number;
  d_model: number;
  encoder_layers: number;
  decoder_layers: number;
  max_position_embeddings: number;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
}

/**
 * What the trainer (`modelGradients`, `train`), the scorer and the decoder call on a model: the surface
 * `MarianModel` has, which every family implements with HF's parameter names and PyTorch layouts.
 */
export interface Seq2SeqModel {
  readonly config: Seq2SeqConfig;
  /** Trainable parameters by HF name. */
  readonly params: Map<string, tf.Variable>;
  /** Saved, untrained buffers by HF name (Marian's `final_logits_bias`). */
  readonly buffers: Map<string, tf.Variable>;
  /**
   * LoRA adapters on target linear layers, when attached (`attachLora` in `lora/`): every linear layer adds its
   * module's term through the shared `addLora` hook, and the trainer then trains these instead of `params`.
   */
  lora?: LoraAdapters;
  /** The tied output projection `[V, d]`. */
  readonly outputWeight: tf.Variable<tf.Rank.R2>;
  /** The fixed logits bias `[1, V]` (zeros where the family has none). */
  readonly outputBias: tf.Tensor;
  dispose(): void;
  toNamedTensors(): Map<string, NamedTensor>;
  loadNamedTensors(tensors: ReadonlyMap<string, NamedTensor>, source: string): void;
  embedInputs(ids: tf.Tensor2D, rng?: Rng): tf.Tensor3D;
  layerParams(prefix: string): [string, tf.Variable][];
  encoderLayer(i: number, x: tf.Tensor, bias: tf.Tensor4D, rng?: Rng): tf.Tensor3D;
  decoderLayer(
    i: number,
    x: tf.Tensor,
    causal: tf.Tensor4D,
    encoded: { hidden: tf.Tensor; bias: tf.Tensor4D },
    rng?: Rng,
  ): tf.Tensor3D;
  encode(sourceIds: tf.Tensor2D, rng?: Rng): Encoded;
  decodeHidden(decoderIds: tf.Tensor2D, encoded: Encoded, rng?: Rng): tf.Tensor3D;
  decode(decoderIds: tf.Tensor2D, encoded: Encoded, rng?: Rng): tf.Tensor3D;
  startDecoding(encoded: Encoded): DecoderState;
  step(state: DecoderState, ids: tf.Tensor1D): tf.Tensor2D;
}

/** Tokenizer choices of a folder: Marian's multilingual target token, or M2M100's language pair. */
export interface TokenizerOptions {
  /** Marian: `>>deu<<` before every source sentence. */
  targetToken?: string;
  /** M2M100 family: source language (`eng_Latn`, `en`). */
  srcLang?: string;
  /** M2M100 family: target language (`deu_Latn`, `de`). */
  tgtLang?: string;
}

/** One model family: how its `config.json`, weights and tokenizer are read, and how its model is built. */
export interface ModelFamily<C extends Seq2SeqConfig = Seq2SeqConfig, M extends Seq2SeqModel = Seq2SeqModel> {
  /** HF `config.model_type`. */
  modelType: string;
  /** HF's class, for messages. */
  architecture: string;
  /** Reads a parsed `config.json` (HF defaults, unsupported values refused). */
  parseConfig(raw: unknown, source: string): C;
  /** A model with freshly initialised parameters, or with the loaded weights `initial` ({@link InitialValues}). */
  create(config: C, rng: Rng, initial?: InitialValues): M;
  /**
   * Maps a checkpoint's tensors to the model's parameter names, as `from_pretrained` resolves them; a tensor that is
   * none of `expected` is `INVALID_DATA` (without `expected`, the caller checks that, once the model exists).
   */
  resolveTensors(
    tensors: ReadonlyMap<string, NamedTensor>,
    config: C,
    expected: Iterable<string> | undefined,
    source: string,
  ): Map<string, NamedTensor>;
  /** The tokenizer of a folder as published. */
  loadTokenizer(folder: Folder, options: TokenizerOptions): Promise<SubwordTokenizer>;
  /** Whether `folder` holds this family's tokenizer files. */
  hasTokenizer(folder: Folder): boolean;
  /** Copies a folder's tokenizer files into another (a fine-tuned folder keeps its base's tokenizer). */
  copyTokenizer(from: Folder, to: WritableFolder): void;
  /** Writes `config.json`, `generation_config.json` and `model.safetensors` as HF `save_pretrained` does. */
  saveFolder(model: M, folder: WritableFolder): void;
}

const marian: ModelFamily<MarianConfig, MarianModel> = {
  modelType: 'marian',
  architecture: 'MarianMTModel',
  parseConfig,
  create: (config, rng, initial) => new MarianModel(config, rng, initial),
  resolveTensors: resolveMarianTensors,
  loadTokenizer: (folder, options) => loadFolderTokenizer(folder, { targetToken: options.targetToken }),
  hasTokenizer: (folder) => tokenizerKind(folder) !== undefined,
  copyTokenizer: (from, to) => copyTokenizer(from, to),
  saveFolder: (model, folder) => saveMarianModel(model, folder),
};

const m2m100: ModelFamily<M2M100Config, M2M100Model> = {
  modelType: 'm2m_100',
  architecture: 'M2M100ForConditionalGeneration',
  parseConfig: parseM2M100Config,
  create: (config, rng, initial) => new M2M100Model(config, rng, initial),
  resolveTensors: resolveM2M100Tensors,
  loadTokenizer: async (folder, options) =>
    loadM2M100FamilyTokenizer(folder, { srcLang: options.srcLang, tgtLang: options.tgtLang }),
  hasTokenizer: (folder) => m2m100TokenizerKind(folder) !== undefined,
  copyTokenizer: (from, to) => copyM2M100Tokenizer(from, to),
  saveFolder: (model, folder) => saveM2M100Model(model, folder),
};

/**
 * The model families by HF `config.model_type`: `marian` (OPUS-MT, `MarianMTModel`) and `m2m_100` (NLLB-200 and
 * M2M100, `M2M100ForConditionalGeneration`). Adding a family is a folder under `models/` and a line here.
 */
export const MODEL_FAMILIES: Readonly<Record<string, ModelFamily>> = {
  marian: marian as unknown as ModelFamily,
  m2m_100: m2m100 as unknown as ModelFamily,
};

/**
 * The family of a parsed `config.json` by its `model_type` (absent: `marian`, as the app's own early folders and
 * `parseConfig` assume). Another value is `INVALID_DATA` naming it, the supported types and `source`.
 */
export function modelFamily(raw: unknown, source = 'config'): ModelFamily {
  const type =
    raw && typeof raw === 'object' && 'model_type' in raw
      ? (raw as { model_type: unknown }).model_type
      : 'marian';
  const family = typeof type === 'string' ? MODEL_FAMILIES[type] : undefined;
  if (!family || !Object.hasOwn(MODEL_FAMILIES, type as string)) {
    return invalidData(
      `${source}: model_type ${JSON.stringify(type)} is not supported; supported: ${Object.keys(MODEL_FAMILIES).join(', ')}.`,
    );
  }
  return family;
}

/** A fresh model for a parsed `config.json`, of the family its `model_type` names (see {@link modelFamily}). */
export function createModel(raw: unknown, rng: Rng, source = 'config'): Seq2SeqModel {
  const family = modelFamily(raw, source);
  return family.create(family.parseConfig(raw, source), rng);
}
