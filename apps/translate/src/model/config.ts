import { existsSync, readFileSync } from 'node:fs';
import { invalidData, invalidOption } from '../errors.js';
import { EOS_ID, PAD_ID } from '../tokenizers/bpe.js';

/** The subset of HF `MarianConfig` this app reads and writes (same names, so `config.json` loads in HF). */
export interface MarianConfig {
  model_type: 'marian';
  architectures: ['MarianMTModel'];
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
  activation_function: 'swish' | 'relu' | 'gelu';
  max_position_embeddings: number;
  scale_embedding: boolean;
  share_encoder_decoder_embeddings: boolean;
  tie_word_embeddings: boolean;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
  forced_eos_token_id: number;
  init_std: number;
  num_beams: number;
  max_length: number;
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

/** A full config for `vocabSize` from a preset name or a JSON file of MarianConfig fields. */
export function makeConfig(vocabSize: number, preset: string = 'small'): MarianConfig {
  let overrides: Partial<MarianConfig>;
  if (preset === 'tiny' || preset === 'small') overrides = PRESETS[preset];
  else if (existsSync(preset)) overrides = readJson(preset) as Partial<MarianConfig>;
  else return invalidOption(`--config must be tiny, small or a JSON file, got ${preset}.`);
  const config: MarianConfig = {
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
    max_length: 128,
    ...overrides,
  };
  config.vocab_size = vocabSize;
  validateConfig(config, preset);
  return config;
}

/** Parses a JSON file; a syntax error is `INVALID_DATA` naming the file. */
export function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return invalidData(`${file}: not valid JSON (${(error as Error).message}).`);
  }
}

/** Checks the fields the model relies on; `source` (the file they came from) prefixes the messages. */
export function validateConfig(config: MarianConfig, source = 'config'): void {
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
    if (!Number.isInteger(config[key]) || config[key] <= 0) {
      invalidData(`${source}: config.${key} must be a positive integer, got ${config[key]}.`);
    }
  }
  for (const key of ['encoder_attention_heads', 'decoder_attention_heads'] as const) {
    if (config.d_model % config[key] !== 0) {
      invalidData(
        `${source}: config.d_model (${config.d_model}) must be divisible by config.${key} (${config[key]}).`,
      );
    }
  }
  if (!['swish', 'relu', 'gelu'].includes(config.activation_function)) {
    invalidData(
      `${source}: config.activation_function must be swish, relu or gelu, got ${config.activation_function}.`,
    );
  }
}
