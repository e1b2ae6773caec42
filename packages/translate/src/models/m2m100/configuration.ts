import { invalidData } from '../../errors.js';

/** Activations of HF `ACT2FN` the M2M100 model implements (NLLB-200 and M2M100 checkpoints use `relu`). */
export const M2M100_ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'swish', 'silu'] as const;

/**
 * HF `M2M100Config` (`model_type: "m2m_100"`) as this app reads it: the configuration of both
 * `M2M100ForConditionalGeneration` families, NLLB-200 (`facebook/nllb-200-*`) and M2M100 (`facebook/m2m100_*`).
 * Field names are HF's, so a folder written back loads in `from_pretrained`.
 */
export interface M2M100Config {
  model_type: 'm2m_100';
  architectures: string[];
  /** Rows of the shared embedding and of the tied `lm_head` (may exceed the tokenizer's ids: NLLB has 2 spare). */
  vocab_size: number;
  d_model: number;
  encoder_layers: number;
  decoder_layers: number;
  encoder_attention_heads: number;
  decoder_attention_heads: number;
  encoder_ffn_dim: number;
  decoder_ffn_dim: number;
  dropout: number;
  attention_dropout: number;
  activation_dropout: number;
  activation_function: (typeof M2M100_ACTIVATIONS)[number];
  /** LayerDrop probability of each encoder layer (training only). */
  encoder_layerdrop: number;
  /** LayerDrop probability of each decoder layer (training only). */
  decoder_layerdrop: number;
  /** Longest sequence the checkpoint was trained for (the sinusoidal table itself grows on demand, as in HF). */
  max_position_embeddings: number;
  /** Multiply token embeddings by √d_model. */
  scale_embedding: boolean;
  /** Must be `true`: `lm_head` is the shared embedding. */
  tie_word_embeddings: boolean;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  /** `</s>` (2) in every published checkpoint: the decoder starts from it, then the forced target language. */
  decoder_start_token_id: number;
  init_std: number;
  is_encoder_decoder?: boolean;
  use_cache?: boolean;
}

/** `M2M100Config.__init__` defaults (transformers `configuration_m2m_100.py`) plus `tie_word_embeddings: true`. */
const HF_DEFAULTS = {
  architectures: ['M2M100ForConditionalGeneration'],
  vocab_size: 128112,
  max_position_embeddings: 1024,
  encoder_layers: 12,
  encoder_ffn_dim: 4096,
  encoder_attention_heads: 16,
  decoder_layers: 12,
  decoder_ffn_dim: 4096,
  decoder_attention_heads: 16,
  encoder_layerdrop: 0.05,
  decoder_layerdrop: 0.05,
  activation_function: 'relu',
  d_model: 1024,
  dropout: 0.1,
  attention_dropout: 0.1,
  activation_dropout: 0,
  init_std: 0.02,
  decoder_start_token_id: 2,
  scale_embedding: true,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  tie_word_embeddings: true,
} as const;

/**
 * Fields of published NLLB / M2M100 `config.json` files that carry no model semantics here (bookkeeping and
 * generation defaults; the app decodes with its own options). They are kept and written back unchanged.
 */
const PASSTHROUGH = new Set([
  '_name_or_path',
  'transformers_version',
  'torch_dtype',
  'dtype',
  'tokenizer_class',
  'num_hidden_layers',
  'gradient_checkpointing',
  'output_past',
  'classifier_dropout',
  'id2label',
  'label2id',
  'max_length',
  'min_length',
  'num_beams',
  'early_stopping',
  'length_penalty',
  'no_repeat_ngram_size',
  'forced_bos_token_id',
  'forced_eos_token_id',
  'decoder_start_token_id_for_generation',
  'task_specific_params',
  'bad_words_ids',
  'sep_token_id',
]);

const MODEL_FIELDS = new Set(['model_type', ...Object.keys(HF_DEFAULTS), 'is_encoder_decoder', 'use_cache']);

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/**
 * Reads a parsed `config.json` of an NLLB-200 or M2M100 checkpoint as HF `M2M100Config` does (absent fields take
 * HF's defaults, e.g. LayerDrop 0.05) and refuses what the model does not implement, with `INVALID_DATA` naming
 * `source`, the field and its value: another `model_type`, an untied `lm_head`, an unknown activation, a field that
 * is neither a model field nor known metadata.
 */
export function parseM2M100Config(raw: unknown, source = 'config'): M2M100Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return invalidData(`${source}: a config must be a JSON object.`);
  }
  const config = { ...HF_DEFAULTS, ...(raw as Record<string, unknown>) } as unknown as M2M100Config;
  validateM2M100Config(config, source);
  return config;
}

/** Checks every field of `config` (see {@link parseM2M100Config}); throws `INVALID_DATA` naming the field. */
export function validateM2M100Config(config: M2M100Config, source = 'config'): void {
  const fields = config as unknown as Record<string, unknown>;
  const bad = (field: string, expected: string): never =>
    invalidData(`${source}: config.${field} ${expected}, got ${describe(fields[field])}.`);
  for (const key of Object.keys(fields)) {
    if (!MODEL_FIELDS.has(key) && !PASSTHROUGH.has(key)) {
      invalidData(
        `${source}: config.${key} (${describe(fields[key])}) is not an M2M100Config field this model implements.`,
      );
    }
  }
  if (config.model_type !== 'm2m_100') bad('model_type', 'must be "m2m_100"');
  if (
    !Array.isArray(config.architectures) ||
    config.architectures.some((a) => a !== 'M2M100ForConditionalGeneration')
  ) {
    bad('architectures', 'must be ["M2M100ForConditionalGeneration"]');
  }
  const positive = [
    'vocab_size',
    'd_model',
    'encoder_layers',
    'decoder_layers',
    'encoder_attention_heads',
    'decoder_attention_heads',
    'encoder_ffn_dim',
    'decoder_ffn_dim',
    'max_position_embeddings',
  ] as const;
  for (const key of positive) {
    if (!Number.isInteger(config[key]) || config[key] <= 0) bad(key, 'must be a positive integer');
  }
  if (config.d_model % 2 !== 0 || config.d_model < 4) {
    // get_embedding divides by d/2 − 1 and, for odd d, appends a zero column: only even d ≥ 4 is implemented.
    bad('d_model', 'must be an even number ≥ 4');
  }
  for (const key of ['encoder_attention_heads', 'decoder_attention_heads'] as const) {
    if (config.d_model % config[key] !== 0) {
      invalidData(
        `${source}: config.d_model (${config.d_model}) must be divisible by config.${key} (${config[key]}).`,
      );
    }
  }
  if (config.tie_word_embeddings !== true)
    bad('tie_word_embeddings', 'must be true (lm_head is the shared embedding)');
  if (typeof config.scale_embedding !== 'boolean') bad('scale_embedding', 'must be true or false');
  if (!(M2M100_ACTIVATIONS as readonly string[]).includes(config.activation_function)) {
    bad('activation_function', `must be one of ${M2M100_ACTIVATIONS.join(', ')}`);
  }
  const rates = [
    'dropout',
    'attention_dropout',
    'activation_dropout',
    'encoder_layerdrop',
    'decoder_layerdrop',
    'init_std',
  ] as const;
  for (const key of rates) {
    const value = config[key];
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) bad(key, 'must be a number in [0, 1)');
  }
  if (config.is_encoder_decoder !== undefined && config.is_encoder_decoder !== true) {
    bad('is_encoder_decoder', 'must be true');
  }
  for (const key of ['pad_token_id', 'bos_token_id', 'eos_token_id', 'decoder_start_token_id'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0 || value >= config.vocab_size) {
      bad(key, `must be a token id below vocab_size (${config.vocab_size})`);
    }
  }
}
