import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidData } from '../errors.js';
import { type MarianConfig, parseConfig, readJson } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { loadTokenizer, type SubwordTokenizer } from '../tokenizers/bpe.js';
import { writeFileAtomic } from './atomic.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

/** Files of a tokenizer inside a model folder. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/** Writes `config.json`, `generation_config.json` and `model.safetensors` atomically into `dir`. */
export function saveModel(model: MarianModel, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(model.config, null, 2)}\n`);
  writeFileAtomic(
    join(dir, 'generation_config.json'),
    `${JSON.stringify(
      {
        bos_token_id: model.config.pad_token_id,
        decoder_start_token_id: model.config.decoder_start_token_id,
        eos_token_id: model.config.eos_token_id,
        forced_eos_token_id: model.config.forced_eos_token_id,
        pad_token_id: model.config.pad_token_id,
        num_beams: model.config.num_beams,
        max_length: model.config.max_length,
      },
      null,
      2,
    )}\n`,
  );
  writeFileAtomic(join(dir, 'model.safetensors'), writeSafetensors(model.toNamedTensors(), { format: 'pt' }));
}

/** Reads `config.json` of a model folder. */
export function readConfig(dir: string): MarianConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) invalidData(`${dir} is not a model folder: ${path} is missing.`);
  return parseConfig(readJson(path), path);
}

/** Loads weights from `file` (safetensors) into `model`. */
export function loadWeights(model: MarianModel, file: string): void {
  if (!existsSync(file)) invalidData(`Weights file ${file} is missing.`);
  const parsed = readSafetensors(readFileSync(file), file);
  try {
    model.loadNamedTensors(parsed.tensors, file);
  } catch (error) {
    invalidData((error as Error).message);
  }
}

/** Loads a model folder: config, weights and tokenizer (through transformers.js). */
export async function loadModelFolder(
  dir: string,
): Promise<{ model: MarianModel; tokenizer: SubwordTokenizer }> {
  const config = readConfig(dir);
  const model = new MarianModel(config, new Rng(0));
  loadWeights(model, join(dir, 'model.safetensors'));
  const tokenizer = await loadTokenizer(dir);
  if (tokenizer.vocabSize !== config.vocab_size) {
    invalidData(
      `${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.vocab_size is ${config.vocab_size}.`,
    );
  }
  return { model, tokenizer };
}

/** Copies the tokenizer files from one folder to another. */
export function copyTokenizer(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const file of TOKENIZER_FILES) {
    if (!existsSync(join(from, file))) invalidData(`${from} has no ${file}.`);
    copyFileSync(join(from, file), join(to, file));
  }
}
