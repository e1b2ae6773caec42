import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { readConfig } from '../checkpoint/model-folder.js';
import { readSafetensors } from '../checkpoint/safetensors.js';
import { invalidData, invalidOption } from '../errors.js';
import type { MarianConfig } from '../model/config.js';
import { decoderModel, encoderModel, MarianWeights, type WeightFormat } from './marian-onnx.js';

/** Which weight formats to write: `none` fp32 only, `int8` fp32 and `*_quantized.onnx`, `both` the same. */
export type QuantizeOption = 'none' | 'int8' | 'both';

/** Options of {@link exportModelFolder}. */
export interface ExportOptions {
  /** A model folder of el-translate (config.json, model.safetensors, tokenizer files). */
  model: string;
  /** The folder to write (created; files in it are replaced). */
  out: string;
  /** Default `'none'`. `'int8'` and `'both'` add the `_quantized` graphs beside the fp32 ones. */
  quantize?: QuantizeOption;
}

/** What {@link exportModelFolder} wrote: paths relative to `out` and their sizes in bytes. */
export interface ExportResult {
  files: { path: string; bytes: number }[];
}

/** The generation defaults transformers.js reads (`generation_config.json`), HF Marian's keys. */
export function generationConfig(config: MarianConfig): Record<string, unknown> {
  return {
    bad_words_ids: config.bad_words_ids ?? [[config.pad_token_id]],
    bos_token_id: config.bos_token_id ?? config.pad_token_id,
    decoder_start_token_id: config.decoder_start_token_id,
    eos_token_id: config.eos_token_id,
    forced_eos_token_id: config.forced_eos_token_id,
    max_length: config.max_length,
    num_beams: config.num_beams,
    pad_token_id: config.pad_token_id,
  };
}

type JsonObject = Record<string, unknown>;

/**
 * `tokenizer.json` in the form every transformers.js version reads the same way as HF tokenizers: BPE merges as
 * `"a b"` strings (transformers.js 2.x splits them; 3+ and HF tokenizers accept both forms) and Metaspace with the
 * legacy `add_prefix_space` beside `prepend_scheme` (2.x reads only the former). Nothing else changes.
 */
export function portableTokenizerJson(json: JsonObject): JsonObject {
  const model = json.model as JsonObject | undefined;
  const merges = model?.merges as (string | string[])[] | undefined;
  const portableMerges = merges?.every((m) => typeof m === 'string' || !m.some((part) => part.includes(' ')))
    ? merges.map((m) => (typeof m === 'string' ? m : m.join(' ')))
    : merges;
  const metaspace = (component: unknown): unknown => {
    const c = component as JsonObject | null | undefined;
    if (c?.type !== 'Metaspace' || 'add_prefix_space' in c) return c;
    return { ...c, add_prefix_space: c.prepend_scheme !== 'never' };
  };
  return {
    ...json,
    pre_tokenizer: metaspace(json.pre_tokenizer),
    decoder: metaspace(json.decoder),
    ...(model ? { model: { ...model, merges: portableMerges } } : {}),
  };
}

/** The tokenizer files of the folder, as transformers.js loads them (`tokenizer.json` + `tokenizer_config.json`). */
function copyTokenizerFiles(from: string, to: string): string[] {
  const file = join(from, 'tokenizer.json');
  if (!existsSync(file)) {
    invalidData(
      `${from} has no tokenizer.json (an OPUS-MT folder's source.spm/target.spm need converting first).`,
    );
  }
  const json = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
  writeFileAtomic(join(to, 'tokenizer.json'), JSON.stringify(portableTokenizerJson(json)));
  if (existsSync(join(from, 'tokenizer_config.json'))) {
    copyFileSync(join(from, 'tokenizer_config.json'), join(to, 'tokenizer_config.json'));
    return ['tokenizer.json', 'tokenizer_config.json'];
  }
  return ['tokenizer.json'];
}

/**
 * Exports a model folder to the layout transformers.js (`@huggingface/transformers` 3–4, `@xenova/transformers`
 * 2.x) loads for `MarianMTModel`: `config.json`, `generation_config.json`, the tokenizer files,
 * `onnx/encoder_model.onnx` and `onnx/decoder_model_merged.onnx` (plus `*_quantized.onnx` with int8 weights).
 * The graphs are written with the ORT adapter's ONNX writer from `model.safetensors`; no tfjs is involved.
 *
 * @example
 * exportModelFolder({ model: 'runs/demo/cel', out: 'runs/demo/cel-onnx', quantize: 'both' });
 * // then: await pipeline('translation', 'cel-onnx', { dtype: 'fp32' })
 */
export function exportModelFolder(options: ExportOptions): ExportResult {
  const quantize = options.quantize ?? 'none';
  if (!['none', 'int8', 'both'].includes(quantize)) {
    invalidOption(`--quantize must be none, int8 or both, got ${quantize}.`);
  }
  const config = readConfig(options.model);
  const weightsFile = join(options.model, 'model.safetensors');
  if (!existsSync(weightsFile)) invalidData(`${options.model} has no model.safetensors.`);
  const weights = new MarianWeights(config, readSafetensors(readFileSync(weightsFile), weightsFile).tensors);
  const out = options.out;
  mkdirSync(join(out, 'onnx'), { recursive: true });
  const written: string[] = [];
  const write = (path: string, data: string | Uint8Array) => {
    writeFileAtomic(join(out, path), data);
    written.push(path);
  };
  write(
    'config.json',
    `${JSON.stringify({ ...config, use_cache: true, is_encoder_decoder: true }, null, 2)}\n`,
  );
  write('generation_config.json', `${JSON.stringify(generationConfig(config), null, 2)}\n`);
  written.push(...copyTokenizerFiles(options.model, out));
  const formats: [WeightFormat, string][] = [['fp32', '']];
  if (quantize !== 'none') formats.push(['int8', '_quantized']);
  for (const [format, suffix] of formats) {
    write(`onnx/encoder_model${suffix}.onnx`, encoderModel(weights, format));
    write(`onnx/decoder_model_merged${suffix}.onnx`, decoderModel(weights, format));
  }
  return { files: written.map((path) => ({ path, bytes: statSync(join(out, path)).size })) };
}

/**
 * The two lines that translate with an exported folder in Node with transformers.js (ES module, top-level
 * await), local files only.
 */
export function transformersJsLines(out: string): string[] {
  const absolute = resolve(out);
  return [
    `import { env, pipeline } from '@huggingface/transformers'; env.allowRemoteModels = false; env.localModelPath = '${dirname(absolute)}/';`,
    `const translate = await pipeline('translation', '${basename(absolute)}', { dtype: 'fp32' }); console.log(await translate('The printer is broken.'));`,
  ];
}
