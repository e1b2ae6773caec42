import { invalidOption, OnnxTranslator } from '@encouraging-loss/translate';
import { type ModelSource, modelFetch } from './model-source.js';
import { ort } from './runtime.js';

/** The beam-search controls of the Translate view: `el-translate translate`'s `--beam` and `--length-penalty`. */
export interface BeamSettings {
  /** Hypotheses kept per sentence; `1` is greedy. */
  beam: number;
  /** α: hypotheses are ranked by log P / (length + 1)^α. */
  lengthPenalty: number;
  /** Most generated tokens (EOS excluded), also capped by the model's positions. */
  maxLength: number;
}

/** The settings as given, or an `INVALID_OPTION` error that names the field. */
export function checkBeamSettings(settings: BeamSettings): BeamSettings {
  const { beam, lengthPenalty, maxLength } = settings;
  // A beam of thousands would allocate thousands of cache rows per step: 64 is far beyond any useful width.
  if (!Number.isInteger(beam) || beam < 1 || beam > 64)
    invalidOption(`The beam size must be a whole number from 1 to 64, got ${beam}.`);
  if (!Number.isFinite(lengthPenalty))
    invalidOption(`The length penalty must be a number, got ${lengthPenalty}.`);
  if (!Number.isInteger(maxLength) || maxLength < 1)
    invalidOption(`The most new tokens must be a whole number of at least 1, got ${maxLength}.`);
  return settings;
}

/** The exported folder's beam search: {@link OnnxTranslator} over the page's onnxruntime-web. */
export interface BeamTranslator {
  /** Target ids (without EOS) of source ids (EOS included, as the folder's tokenizer gives them). */
  translateIds(source: number[], settings: BeamSettings): Promise<number[]>;
  dispose(): Promise<void>;
}

/**
 * Creates the encoder and merged decoder sessions of an exported folder on the same onnxruntime-web instance (and
 * .wasm) transformers.js runs on — runtime.ts's `ort`, which vite.config.ts aliases every import to — reading the
 * files through {@link modelFetch}, so a picked folder works as a served one. They are sessions of their own, beside
 * transformers.js's: `OnnxTranslator` creates its sessions, and transformers.js's are behind its private run chain.
 */
export async function loadBeamTranslator(source: ModelSource): Promise<BeamTranslator> {
  const read = modelFetch(() => source);
  const folder = new URL(`${source.base}${source.name}/`, location.origin);
  const file = async (path: string) => {
    const response = await read(new URL(path, folder).href);
    if (!response.ok) throw new Error(`Could not read ${path} of ${source.name}: HTTP ${response.status}.`);
    return response;
  };
  const [config, encoder, decoder] = await Promise.all([
    file('config.json').then((r) => r.json() as Promise<OnnxTranslator['config']>),
    file('onnx/encoder_model.onnx').then(async (r) => new Uint8Array(await r.arrayBuffer())),
    file('onnx/decoder_model_merged.onnx').then(async (r) => new Uint8Array(await r.arrayBuffer())),
  ]);
  const translator = await OnnxTranslator.create(ort, { encoder, decoder, config });
  return {
    async translateIds(ids, settings) {
      const { beam, lengthPenalty, maxLength } = checkBeamSettings(settings);
      const [target] = await translator.translateIds([ids], { beam, lengthPenalty, maxLength });
      return target;
    },
    dispose: () => translator.release(),
  };
}
