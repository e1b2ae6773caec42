import { invalidData, invalidOption } from '../errors.js';
import { EOS_ID, PAD_ID } from '../tokenizers/bpe.js';

/** Activations the model implements, by their HF `ACT2FN` names (`swish` and `silu` are the same function). */
export const ACTIVATIONS = ['swish', 'silu', 'relu', 'gelu', 'gelu_new'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/**
 * HF `MarianConfig` as this app reads and writes it (same names, so `config.json` loads in HF
 * `MarianMTModel.from_pretrained`). Fields HF accepts but the model here does not implement are only allowed at the
 * value that `MarianMTModel` itself computes with (see {@link validateConfig}); metadata fields of a published
 * folder (`_name_or_path`, `id2label`, `transformers_version`, …) are carried through unchanged on save.
 */
export interface MarianConfig {
  model_type: 'marian';
  architectures: ['MarianMTModel'];
  /** Rows of the (shared) embedding and the output projection. */
  vocab_size: number;
  /** Equal to `vocab_size`: separate decoder vocabularies are refused (see {@link validateConfig}). */
  decoder_vocab_size?: number;
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
  activation_function: Activation;
  max_position_embeddings: number;
  /** Multiply token embeddings by √d_model. */
  scale_embedding: boolean;
  /** Must be `true`: one `model.shared.weight` for encoder and decoder. */
  share_encoder_decoder_embeddings: boolean;
  /** Must be `true`: the output projection is the shared embedding. */
  tie_word_embeddings: boolean;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
  forced_eos_token_id: number;
  /** HF generation's BOS; OPUS-MT configs carry 0 (unused by Marian, which starts from `decoder_start_token_id`). */
  bos_token_id?: number;
  /** Token sequences generation must never emit; OPUS-MT configs carry `[[pad_token_id]]`. */
  bad_words_ids?: number[][];
  init_std: number;
  /** Generation default of the folder (the app's own decoding takes its options from the command line). */
  num_beams: number;
  /** Generation default of the folder (the app's own decoding takes its options from the command line). */
  max_length: number;
  /** Marian-converter fields HF stores but does not compute with; only their `MarianMTModel` values are valid. */
  static_position_embeddings?: true;
  normalize_embedding?: false;
  normalize_before?: false;
  add_bias_logits?: false;
  add_final_layer_norm?: false;
  encoder_layerdrop?: number;
  decoder_layerdrop?: number;
  is_encoder_decoder?: true;
  use_cache?: boolean;
}

const SMALL = {
  d_model: 128,
  encoder_layers: 2,
  decoder_layers: 2,
  encoder_attention_heads: 4,
  decoder_attention_heads: 4,
  encoder_ffn_dim: 256,
  decoder_ffn_dim: 256,
};

/** Model sizes by name; `tiny` is for tests, `small` for the demo. */
export const PRESETS: Record<'tiny' | 'small', Partial<MarianConfig>> = {
  tiny: {
    d_model: 32,
    encoder_layers: 1,
    decoder_layers: 1,
    encoder_attention_heads: 2,
    decoder_attention_heads: 2,
    encoder_ffn_dim: 64,
    decoder_ffn_dim: 64,
  },
  small: SMALL,
};

/**
 * A full config for a tokenizer of `vocabSize` tokens from a preset name (`tiny`, `small`) or the parsed content of
 * a JSON file of MarianConfig fields (`source` names that file in messages; `makeConfigFile` in `/node` reads one).
 * A JSON file may set `vocab_size` (at least `vocabSize`: extra rows are never produced by the tokenizer, as in
 * OPUS-MT vocabularies padded to a multiple); otherwise the tokenizer's size is used.
 */
export function makeConfig(
  vocabSize: number,
  preset: string | Partial<MarianConfig> = 'small',
  source: string = typeof preset === 'string' ? preset : 'config',
): MarianConfig {
  let overrides: Partial<MarianConfig>;
  if (preset === 'tiny' || preset === 'small') overrides = PRESETS[preset];
  else if (typeof preset !== 'string') {
    if (typeof preset !== 'object' || preset === null || Array.isArray(preset))
      invalidData(`${source}: a config must be a JSON object.`);
    overrides = preset;
  } else return invalidOption(`--config must be tiny, small or a JSON file, got ${preset}.`);
  if (overrides.vocab_size !== undefined && !(overrides.vocab_size >= vocabSize)) {
    invalidOption(
      `--config ${source}: vocab_size ${overrides.vocab_size} is smaller than the tokenizer's ${vocabSize} tokens.`,
    );
  }
  const config = {
    model_type: 'marian',
    architectures: ['MarianMTModel'],
    vocab_size: vocabSize,
    ...SMALL, // sizes a JSON file leaves out
    dropout: 0.1,
    attention_dropout: 0,
    activation_dropout: 0,
    activation_function: 'swish',
    max_position_embeddings: 256,
    scale_embedding: true,
    share_encoder_decoder_embeddings: true,
    tie_word_embeddings: true,
    pad_token_id: PAD_ID,
    eos_token_id: EOS_ID,
    decoder_start_token_id: PAD_ID,
    forced_eos_token_id: EOS_ID,
    init_std: 0.02,
    num_beams: 5,
    max_length: 256,
    ...overrides,
  } as MarianConfig;
  config.decoder_vocab_size = config.vocab_size;
  config.bad_words_ids ??= [[config.pad_token_id]];
  // HF generate's length cap, equal to the app's own: it never decodes past its positions.
  if (overrides.max_length === undefined) config.max_length = config.max_position_embeddings;
  validateConfig(config, source);
  return config;
}

/**
 * Largest sizes a config may declare, checked by {@link validateConfig} before anything is allocated. The model
 * built from a config holds {@link configElementCount} float32 values (parameters plus the sinusoidal position
 * table); the largest OPUS-MT models (transformer-big, `d_model` 1024, 6 + 6 layers, ~60k vocabulary) hold about
 * 2.5 × 10⁸, the caps allow twice that and no single size past what any published Marian model uses by far.
 */
export const CONFIG_LIMITS = {
  /** `encoder_layers`, `decoder_layers`. */
  layers: 256,
  /** `d_model`. */
  dModel: 16_384,
  /** `encoder_ffn_dim`, `decoder_ffn_dim`. */
  ffnDim: 65_536,
  /** `vocab_size`. */
  vocabSize: 2 ** 21,
  /** `max_position_embeddings`, `max_length`. */
  positions: 65_536,
  /** `num_beams`. */
  beams: 1024,
  /** {@link configElementCount}: 2²⁹ float32 values, 2 GiB. */
  elements: 2 ** 29,
} as const;

/**
 * Float32 values a model of this config holds: the shared embedding `V·d` and `final_logits_bias` `V`, per encoder
 * layer `4(d² + d)` attention + `2d·f + f + d` feed-forward + `4d` LayerNorm, per decoder layer twice the attention
 * and `6d` LayerNorm, and the position table `P·d`.
 */
export function configElementCount(config: MarianConfig): number {
  const d = config.d_model;
  const attention = 4 * (d * d + d);
  const encoder = attention + 2 * d * config.encoder_ffn_dim + config.encoder_ffn_dim + d + 4 * d;
  const decoder = 2 * attention + 2 * d * config.decoder_ffn_dim + config.decoder_ffn_dim + d + 6 * d;
  return (
    config.vocab_size * (d + 1) +
    config.encoder_layers * encoder +
    config.decoder_layers * decoder +
    config.max_position_embeddings * d
  );
}

/**
 * Refuses a config whose model needs more parameters than a weights file of `weightBytes` bytes can hold (2 bytes
 * per value, the smallest dtype a checkpoint stores, the position table excluded as checkpoints may leave it out),
 * so a `config.json` cannot make the app allocate far more than the weights it came with before they are read.
 */
export function checkConfigFitsWeights(config: MarianConfig, weightBytes: number, source = 'config'): void {
  const parameters = configElementCount(config) - config.max_position_embeddings * config.d_model;
  if (parameters * 2 > weightBytes) {
    invalidData(
      `${source}: the config describes ${parameters} parameters, more than the ${weightBytes} bytes of weights beside it can hold.`,
    );
  }
}

/**
 * `MarianConfig.__init__` defaults (transformers `configuration_marian.py`) for fields a published `config.json`
 * may leave out, plus `PretrainedConfig`'s `tie_word_embeddings: true`.
 */
const HF_DEFAULTS = {
  vocab_size: 58101,
  max_position_embeddings: 1024,
  encoder_layers: 12,
  encoder_ffn_dim: 4096,
  encoder_attention_heads: 16,
  decoder_layers: 12,
  decoder_ffn_dim: 4096,
  decoder_attention_heads: 16,
  activation_function: 'gelu',
  d_model: 1024,
  dropout: 0.1,
  attention_dropout: 0,
  activation_dropout: 0,
  init_std: 0.02,
  decoder_start_token_id: 58100,
  scale_embedding: false,
  pad_token_id: 58100,
  eos_token_id: 0,
  forced_eos_token_id: 0,
  share_encoder_decoder_embeddings: true,
  tie_word_embeddings: true,
  num_beams: 1,
  max_length: 20,
} as const;

/**
 * Fields of a published `config.json` that carry no model semantics here: `PretrainedConfig` bookkeeping and
 * generation defaults (the app's decoding takes beam size, length cap etc. from its own options). They are kept
 * as they are and written back on save.
 */
const PASSTHROUGH = new Set([
  '_name_or_path',
  '_num_labels',
  'id2label',
  'label2id',
  'num_labels',
  'num_hidden_layers',
  'classif_dropout',
  'classifier_dropout',
  'gradient_checkpointing',
  'transformers_version',
  'torch_dtype',
  'dtype',
  'output_past',
  'output_attentions',
  'output_hidden_states',
  'output_scores',
  'return_dict',
  'return_dict_in_generate',
  'torchscript',
  'use_bfloat16',
  'pruned_heads',
  'chunk_size_feed_forward',
  'is_decoder',
  'add_cross_attention',
  'tie_encoder_decoder',
  'cross_attention_hidden_size',
  'tokenizer_class',
  'prefix',
  'finetuning_task',
  'problem_type',
  'task_specific_params',
  'sep_token_id',
  'forced_bos_token_id',
  'min_length',
  'do_sample',
  'early_stopping',
  'num_beam_groups',
  'diversity_penalty',
  'temperature',
  'top_k',
  'top_p',
  'typical_p',
  'repetition_penalty',
  'length_penalty',
  'no_repeat_ngram_size',
  'encoder_no_repeat_ngram_size',
  'bad_words_ids',
  'num_return_sequences',
  'remove_invalid_values',
  'exponential_decay_length_penalty',
  'suppress_tokens',
  'begin_suppress_tokens',
  'bos_token_id',
  'renormalize_logits',
  'forced_decoder_ids',
  // Fields transformers 3.x wrote into early OPUS-MT configs (BartConfig heritage); MarianMTModel reads none.
  'extra_pos_embeddings',
  'force_bos_token_to_be_generated',
  'do_blenderbot_90_layernorm',
  'xla_device',
]);

/** Fields with model semantics, all checked by {@link validateConfig}. */
const MODEL_FIELDS = new Set([
  'model_type',
  'architectures',
  'vocab_size',
  'decoder_vocab_size',
  ...Object.keys(HF_DEFAULTS),
  'static_position_embeddings',
  'normalize_embedding',
  'normalize_before',
  'add_bias_logits',
  'add_final_layer_norm',
  'encoder_layerdrop',
  'decoder_layerdrop',
  'is_encoder_decoder',
  'use_cache',
]);

/**
 * Reads a parsed `config.json` as HF `MarianConfig` does: fields it leaves out take HF's defaults
 * (`decoder_vocab_size` defaults to `vocab_size`), then {@link validateConfig} refuses what the model does not
 * implement. `source` (the file) prefixes error messages.
 */
export function parseConfig(raw: unknown, source = 'config'): MarianConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return invalidData(`${source}: a config must be a JSON object.`);
  }
  const config = { ...HF_DEFAULTS, ...(raw as Record<string, unknown>) } as unknown as MarianConfig;
  config.model_type ??= 'marian';
  config.architectures ??= ['MarianMTModel'];
  config.decoder_vocab_size ??= config.vocab_size;
  validateConfig(config, source);
  return config;
}

/** A field value for a message: JSON cut to 200 characters; a value nested too deeply for JSON.stringify is named so. */
function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return 'a value nested too deeply to print';
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Checks every field against what the model implements; `source` (the file they came from) prefixes the messages.
 * Throws `INVALID_DATA` naming the field and its value for anything else: separate encoder/decoder vocabularies
 * (`share_encoder_decoder_embeddings: false`, `decoder_vocab_size ≠ vocab_size`), an untied output projection,
 * LayerDrop, pre-norm or an embedding LayerNorm, learned positions, an activation other than
 * {@link ACTIVATIONS}, or a field that is neither a model field nor known metadata.
 */
export function validateConfig(config: MarianConfig, source = 'config'): void {
  const fields = config as unknown as Record<string, unknown>;
  const bad = (field: string, expected: string): never =>
    invalidData(`${source}: config.${field} ${expected}, got ${describe(fields[field])}.`);
  for (const key of Object.keys(fields)) {
    if (!MODEL_FIELDS.has(key) && !PASSTHROUGH.has(key)) {
      invalidData(
        `${source}: config.${key} (${describe(fields[key])}) is not a MarianConfig field this model implements.`,
      );
    }
  }
  if (config.model_type !== 'marian') bad('model_type', 'must be "marian"');
  if (!Array.isArray(config.architectures) || config.architectures.some((a) => a !== 'MarianMTModel')) {
    bad('architectures', 'must be ["MarianMTModel"]');
  }
  const positive = [
    'vocab_size',
    'decoder_vocab_size',
    'd_model',
    'encoder_layers',
    'decoder_layers',
    'encoder_attention_heads',
    'decoder_attention_heads',
    'encoder_ffn_dim',
    'decoder_ffn_dim',
    'max_position_embeddings',
    'num_beams',
    'max_length',
  ] as const;
  for (const key of positive) {
    const value = config[key];
    if (value === undefined && key === 'decoder_vocab_size') continue;
    if (!Number.isInteger(value) || (value as number) <= 0) bad(key, 'must be a positive integer');
  }
  const caps = [
    ['encoder_layers', CONFIG_LIMITS.layers],
    ['decoder_layers', CONFIG_LIMITS.layers],
    ['d_model', CONFIG_LIMITS.dModel],
    ['encoder_ffn_dim', CONFIG_LIMITS.ffnDim],
    ['decoder_ffn_dim', CONFIG_LIMITS.ffnDim],
    ['vocab_size', CONFIG_LIMITS.vocabSize],
    ['max_position_embeddings', CONFIG_LIMITS.positions],
    ['max_length', CONFIG_LIMITS.positions],
    ['num_beams', CONFIG_LIMITS.beams],
  ] as const;
  for (const [key, cap] of caps) {
    if ((config[key] as number) > cap) bad(key, `must be at most ${cap} (a bound of this app)`);
  }
  const elements = configElementCount(config);
  if (elements > CONFIG_LIMITS.elements) {
    invalidData(
      `${source}: the config describes a model of ${elements} values, more than the ${CONFIG_LIMITS.elements} this app loads (d_model ${config.d_model}, ${config.encoder_layers} + ${config.decoder_layers} layers, vocab_size ${config.vocab_size}).`,
    );
  }
  for (const key of ['encoder_attention_heads', 'decoder_attention_heads'] as const) {
    if (config.d_model % config[key] !== 0) {
      invalidData(
        `${source}: config.d_model (${config.d_model}) must be divisible by config.${key} (${config[key]}).`,
      );
    }
  }
  if (config.decoder_vocab_size !== undefined && config.decoder_vocab_size !== config.vocab_size) {
    bad('decoder_vocab_size', `must equal vocab_size (${config.vocab_size}): separate decoder vocabularies`);
  }
  if (config.share_encoder_decoder_embeddings !== true) {
    bad('share_encoder_decoder_embeddings', 'must be true (one shared embedding is implemented)');
  }
  if (config.tie_word_embeddings !== true) {
    bad('tie_word_embeddings', 'must be true (the output projection is the shared embedding)');
  }
  if (typeof config.scale_embedding !== 'boolean') bad('scale_embedding', 'must be true or false');
  if (!(ACTIVATIONS as readonly string[]).includes(config.activation_function)) {
    bad('activation_function', `must be one of ${ACTIVATIONS.join(', ')}`);
  }
  for (const key of ['dropout', 'attention_dropout', 'activation_dropout', 'init_std'] as const) {
    const value = config[key];
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) bad(key, 'must be a number in [0, 1)');
  }
  for (const key of ['encoder_layerdrop', 'decoder_layerdrop'] as const) {
    if (config[key] !== undefined && config[key] !== 0) bad(key, 'must be 0 (LayerDrop is not implemented)');
  }
  // The Marian converter's flags: HF MarianMTModel always computes with these values.
  const fixed = {
    static_position_embeddings: [true, 'must be true (Marian uses fixed sinusoidal positions)'],
    normalize_embedding: [false, 'must be false (no LayerNorm after the embedding)'],
    normalize_before: [false, 'must be false (Marian is post-norm)'],
    add_bias_logits: [false, 'must be false (the logits bias is final_logits_bias)'],
    add_final_layer_norm: [false, 'must be false (no final LayerNorm)'],
    is_encoder_decoder: [true, 'must be true'],
  } as const;
  for (const [key, [value, message]] of Object.entries(fixed)) {
    if (fields[key] !== undefined && fields[key] !== value) bad(key, message);
  }
  if (config.use_cache !== undefined && typeof config.use_cache !== 'boolean')
    bad('use_cache', 'must be a boolean');
  const ids = ['pad_token_id', 'eos_token_id', 'decoder_start_token_id', 'forced_eos_token_id'] as const;
  for (const key of ids) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0 || value >= config.vocab_size) {
      bad(key, `must be a token id below vocab_size (${config.vocab_size})`);
    }
  }
  if (config.bos_token_id !== undefined && config.bos_token_id !== null) {
    if (!Number.isInteger(config.bos_token_id) || config.bos_token_id < 0)
      bad('bos_token_id', 'must be a token id');
  }
  if (config.bad_words_ids !== undefined && config.bad_words_ids !== null) {
    const valid =
      Array.isArray(config.bad_words_ids) &&
      config.bad_words_ids.every(
        (seq) =>
          Array.isArray(seq) &&
          seq.length > 0 &&
          seq.every((id) => Number.isInteger(id) && id >= 0 && id < config.vocab_size),
      );
    if (!valid) bad('bad_words_ids', 'must be a list of non-empty lists of token ids');
  }
}
