import type { OnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import { resolveMarianTensors } from '../checkpoint/hf-keys.js';
import { generationConfig, readConfig, readModelConfig, readWeights } from '../checkpoint/model-folder.js';
import { invalidData, invalidOption } from '../errors.js';
import { M2M100_TOKENIZER_FILES } from '../models/m2m100/checkpoint.js';
import type { M2M100Config } from '../models/m2m100/configuration.js';
import { m2m100TokenizerKind } from '../models/m2m100/tokenization.js';
import type { ModelFamily } from '../models/registry.js';
import type { Folder, WritableFolder } from '../store/folder.js';
import { convertMarianTokenizer } from '../tokenizers/convert-marian.js';
import { tokenizerKind } from '../tokenizers/load.js';
import { type ExternalDataOption, encodeOnnxFile } from './graph-writer.js';
import { M2M100Weights, m2m100DecoderModel, m2m100EncoderModel } from './m2m100-onnx.js';
import { convertM2M100Tokenizer } from './m2m100-tokenizer.js';
import { decoderModel, encoderModel, MarianWeights } from './marian-onnx.js';
import type { WeightFormat } from './seq2seq-onnx.js';

/** Which weight formats to write: `none` fp32 only, `int8` fp32 and `*_quantized.onnx`, `both` the same. */
export type QuantizeOption = 'none' | 'int8' | 'both';

export type { ExternalDataOption } from './graph-writer.js';

/** Options of {@link exportModelFolder}. */
export interface ExportOptions {
  /** A model folder of el-translate (config.json, model.safetensors, tokenizer files). */
  model: Folder;
  /** The folder to write (files in it are replaced). */
  out: WritableFolder;
  /** Default `'none'`. `'int8'` and `'both'` add the `_quantized` graphs beside the fp32 ones. */
  quantize?: QuantizeOption;
  /**
   * Where each graph keeps its weights. Default `'auto'`: inside the `.onnx` file, unless that file would pass
   * `externalDataThreshold` (1 GiB), then in `<file>.onnx_data` beside it — the fp32 graphs of NLLB-200-600M
   * (1.5 and 1.7 GiB) and larger: protobuf, and so onnxruntime, reads no file of 2 GiB or more, and
   * onnxruntime-web already fails on a single file of 1.5 GiB (its 4 GiB wasm heap holds the file, its parse and
   * the weights at once). `'always'` writes every graph so, `'never'` none (an error for a graph beyond 2 GiB).
   */
  externalData?: ExternalDataOption;
  /** The `.onnx` size in bytes above which `externalData: 'auto'` writes external data (default 1 GiB). */
  externalDataThreshold?: number;
  /**
   * The largest external data file in bytes (default 2 GiB − 1): more data continues in `<file>.onnx_data_1`, … as
   * transformers.js reads it (`use_external_data_format` gives the count).
   */
  maxDataFileBytes?: number;
}

/** Whether `path` is a data file of the graph `onnxPath`: `<onnxPath>_data` or a chunk `<onnxPath>_data_<n>`. */
function isDataFileOf(path: string, onnxPath: string): boolean {
  const prefix = `${onnxPath}_data`;
  return path === prefix || (path.startsWith(`${prefix}_`) && /^\d+$/.test(path.slice(prefix.length + 1)));
}

/** What {@link exportModelFolder} wrote: paths relative to `out` and their sizes in bytes. */
export interface ExportResult {
  files: { path: string; bytes: number }[];
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

/**
 * The tokenizer files transformers.js loads: the folder's `tokenizer.json` (the app's BPE), or for an OPUS-MT
 * folder (`source.spm`, `target.spm`, `vocab.json`) the source side converted to a `tokenizer.json` with a
 * `tokenizer_config.json` naming `PreTrainedTokenizerFast`.
 *
 * Not `MarianTokenizer`: transformers.js' `MarianTokenizer` constructor warns unconditionally that Marian "is not
 * yet supported by fast tokenizers", and its one addition, splitting a leading `>>lang<<` off before
 * SentencePiece, the converted `tokenizer.json` already does (language tokens are added tokens). The folder has no
 * `.spm` files, so Python's slow `MarianTokenizer` could not load it either; `PreTrainedTokenizerFast` loads its
 * `tokenizer.json` in Python, and transformers.js (which drops the `Fast` suffix) builds its base tokenizer.
 */
function writeTokenizerFiles(from: Folder, to: WritableFolder): string[] {
  const kind = tokenizerKind(from);
  if (kind === 'marian') {
    const converted = convertMarianTokenizer(from);
    to.write('tokenizer.json', JSON.stringify(portableTokenizerJson(converted.tokenizerJson)));
    const config = { ...converted.tokenizerConfig, tokenizer_class: 'PreTrainedTokenizerFast' };
    to.write('tokenizer_config.json', `${JSON.stringify(config, null, 2)}\n`);
    return ['tokenizer.json', 'tokenizer_config.json'];
  }
  if (kind === undefined)
    invalidData(`${from.name} has no tokenizer: neither source.spm + vocab.json nor tokenizer.json.`);
  const json = JSON.parse(from.readText('tokenizer.json')) as JsonObject;
  to.write('tokenizer.json', JSON.stringify(portableTokenizerJson(json)));
  if (from.has('tokenizer_config.json')) {
    to.write('tokenizer_config.json', from.read('tokenizer_config.json'));
    return ['tokenizer.json', 'tokenizer_config.json'];
  }
  return ['tokenizer.json'];
}

/**
 * The NLLB-200 / M2M100 tokenizer files transformers.js loads: the folder's own `tokenizer.json` (NLLB as
 * published) with its `tokenizer_config.json`, or one converted from `sentencepiece.bpe.model` (+ `vocab.json`,
 * M2M100, whose published folders have none) by {@link convertM2M100Tokenizer}; the SentencePiece files are
 * copied too, so Python's slow tokenizers load the folder as well.
 */
function writeM2M100TokenizerFiles(from: Folder, to: WritableFolder): string[] {
  const kind = m2m100TokenizerKind(from);
  if (kind === undefined) invalidData(`${from.name} has no tokenizer: sentencepiece.bpe.model is missing.`);
  const written: string[] = [];
  for (const file of M2M100_TOKENIZER_FILES[kind as 'nllb' | 'm2m100']) {
    if (file === 'tokenizer.json' || file === 'tokenizer_config.json' || !from.has(file)) continue;
    to.write(file, from.read(file));
    written.push(file);
  }
  const converted = from.has('tokenizer.json') ? undefined : convertM2M100Tokenizer(from);
  const json = converted?.tokenizerJson ?? (JSON.parse(from.readText('tokenizer.json')) as JsonObject);
  to.write('tokenizer.json', JSON.stringify(portableTokenizerJson(json)));
  const ownConfig = from.has('tokenizer_config.json')
    ? (JSON.parse(from.readText('tokenizer_config.json')) as JsonObject)
    : {};
  // transformers.js picks the tokenizer class by `tokenizer_class` (NllbTokenizer / M2M100Tokenizer): the language
  // handling of the translation pipeline lives there.
  const config = {
    ...converted?.tokenizerConfig,
    ...ownConfig,
    tokenizer_class: kind === 'nllb' ? 'NllbTokenizer' : 'M2M100Tokenizer',
  };
  to.write('tokenizer_config.json', `${JSON.stringify(config, null, 2)}\n`);
  return [...written, 'tokenizer.json', 'tokenizer_config.json'];
}

/** The config files and graph builders of a folder's family. */
interface FamilyGraphs {
  config: object;
  generationConfig: object;
  encoder(format: WeightFormat): OnnxModel;
  decoder(format: WeightFormat): OnnxModel;
}

/**
 * Reads a folder's weights as from_pretrained does (safetensors in any float type, sharded, pytorch_model.bin;
 * tied copies, optional biases and position tables, resolved by the family); a parameter the config needs and the
 * file lacks is named when the graph asks for it.
 */
function exportGraphs(folder: Folder, family: ModelFamily, familyConfig: unknown): FamilyGraphs {
  const dir = folder.name;
  const raw = readWeights(folder);
  const names = [...raw.keys()].flatMap((name) => [name, `model.${name}`]);
  if (family.modelType === 'marian') {
    const config = readConfig(folder);
    const weights = new MarianWeights(config, resolveMarianTensors(raw, config, names, dir));
    return {
      config,
      generationConfig: generationConfig(config),
      encoder: (format) => encoderModel(weights, format),
      decoder: (format) => decoderModel(weights, format),
    };
  }
  if (family.modelType === 'm2m_100') {
    const config = familyConfig as M2M100Config;
    const weights = new M2M100Weights(config, family.resolveTensors(raw, config, names, dir));
    // HF's generation_config of NLLB / M2M100: decoding starts from </s> (decoder_start_token_id 2); the target
    // language is forced per call (transformers.js' translation pipeline sets forced_bos_token_id from tgt_lang),
    // so none is fixed here.
    const { bos_token_id, decoder_start_token_id, eos_token_id, pad_token_id } = config;
    const generation: JsonObject = { bos_token_id, decoder_start_token_id, eos_token_id, pad_token_id };
    const extra = config as unknown as JsonObject;
    for (const key of ['max_length', 'num_beams', 'forced_bos_token_id']) {
      if (extra[key] !== undefined && extra[key] !== null) generation[key] = extra[key];
    }
    return {
      config,
      generationConfig: generation,
      encoder: (format) => m2m100EncoderModel(weights, format),
      decoder: (format) => m2m100DecoderModel(weights, format),
    };
  }
  return invalidData(`${dir}: model_type ${family.modelType} (${family.architecture}) has no ONNX exporter.`);
}

/**
 * Exports a model folder to the layout transformers.js (`@huggingface/transformers` 3–4, `@xenova/transformers`
 * 2.x for Marian) loads for `MarianMTModel` and `M2M100ForConditionalGeneration` (NLLB-200, M2M100):
 * `config.json`, `generation_config.json`, the tokenizer files,
 * `onnx/encoder_model.onnx` and `onnx/decoder_model_merged.onnx` (plus `*_quantized.onnx` with int8 weights).
 * The graphs are written with the ORT adapter's ONNX writer from the folder's weights; no tfjs is involved.
 *
 * A graph too large for one protobuf file (see {@link ExportOptions.externalData}) keeps its weights in
 * `onnx/<file>.onnx_data` beside it, and `config.json` lists it under `transformers.js_config`
 * `use_external_data_format` (`{ "decoder_model_merged.onnx": 1 }`: one data file), which is how transformers.js
 * 3+ knows to fetch it; onnxruntime finds it by the `location` the tensors name.
 *
 * @example
 * exportModelFolder({ model: nodeFolder('runs/demo/cel'), out: nodeFolder('runs/demo/cel-onnx'), quantize: 'both' });
 * // then: await pipeline('translation', 'cel-onnx', { dtype: 'fp32' })
 */
export function exportModelFolder(options: ExportOptions): ExportResult {
  const quantize = options.quantize ?? 'none';
  if (!['none', 'int8', 'both'].includes(quantize)) {
    invalidOption(`--quantize must be none, int8 or both, got ${quantize}.`);
  }
  const externalData = options.externalData ?? 'auto';
  if (!['auto', 'always', 'never'].includes(externalData)) {
    invalidOption(`--external-data must be auto, always or never, got ${externalData}.`);
  }
  const { family, config: familyConfig } = readModelConfig(options.model);
  const graphs = exportGraphs(options.model, family, familyConfig);
  const out = options.out;
  const written: string[] = [];
  const write = (path: string, data: string | Uint8Array) => {
    out.write(path, data);
    written.push(path);
  };
  write('generation_config.json', `${JSON.stringify(graphs.generationConfig, null, 2)}\n`);
  written.push(
    ...(family.modelType === 'marian'
      ? writeTokenizerFiles(options.model, out)
      : writeM2M100TokenizerFiles(options.model, out)),
  );
  const formats: [WeightFormat, string][] = [['fp32', '']];
  if (quantize !== 'none') formats.push(['int8', '_quantized']);
  // transformers.js' `use_external_data_format` by file name: how many data files (`_data`, `_data_1`, …).
  const dataFiles: Record<string, number> = {};
  for (const [format, suffix] of formats) {
    for (const [name, build] of [
      ['encoder_model', graphs.encoder],
      ['decoder_model_merged', graphs.decoder],
    ] as const) {
      const file = `${name}${suffix}.onnx`;
      // One graph at a time: its weights, its encoded file and its data are garbage once written.
      const encoded = encodeOnnxFile(build(format), `${file}_data`, {
        externalData,
        externalDataThreshold: options.externalDataThreshold,
        maxDataFileBytes: options.maxDataFileBytes,
      });
      // Data files left by an earlier export of this folder would be stale beside the new graph.
      const fresh = new Set(encoded.data.map((d) => `onnx/${d.location}`));
      for (const old of out.list()) {
        if (isDataFileOf(old, `onnx/${file}`) && !fresh.has(old)) out.remove(old);
      }
      write(`onnx/${file}`, encoded.model);
      for (const { location, bytes } of encoded.data) write(`onnx/${location}`, bytes);
      if (encoded.data.length > 0) dataFiles[file] = encoded.data.length;
    }
  }
  const config: JsonObject = { ...graphs.config, use_cache: true, is_encoder_decoder: true };
  const { use_external_data_format: _, ...jsConfig } = (config['transformers.js_config'] ?? {}) as JsonObject;
  if (Object.keys(dataFiles).length > 0) jsConfig.use_external_data_format = dataFiles;
  if (Object.keys(jsConfig).length > 0) config['transformers.js_config'] = jsConfig;
  else delete config['transformers.js_config'];
  // config.json last, once the graphs say which have external data; listed first, as before.
  out.write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  written.unshift('config.json');
  const size = (path: string) => (out.size ? out.size(path) : out.read(path).length);
  return { files: written.map((path) => ({ path, bytes: size(path) })) };
}

/** Languages of the example call: NLLB-200 / M2M100 translate between the codes the call names. */
export interface ExampleLanguages {
  /** Source language code (`eng_Latn`, `en`). */
  srcLang: string;
  /** Target language code (`deu_Latn`, `de`). */
  tgtLang: string;
}

/** A language pair of an exported NLLB-200 / M2M100 folder's tokenizer (by its `tokenizer_class`), else none. */
export function exampleLanguages(out: Folder): ExampleLanguages | undefined {
  if (!out.has('tokenizer_config.json')) return undefined;
  const { tokenizer_class: tokenizerClass } = JSON.parse(out.readText('tokenizer_config.json')) as JsonObject;
  if (tokenizerClass === 'NllbTokenizer') return { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' };
  if (tokenizerClass === 'M2M100Tokenizer') return { srcLang: 'en', tgtLang: 'de' };
  return undefined;
}
