import type { OnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import { invalidData } from '../errors.js';
import type { MarianConfig } from '../model/config.js';
import { decoderGraph, encoderGraph, type GraphWeights, type WeightFormat } from './seq2seq-onnx.js';

export { cacheNames, EXPORT_OPSET, type WeightFormat } from './seq2seq-onnx.js';

/**
 * Marian parameters by HF name, read from a safetensors file. Positions are computed when the file lacks them
 * (HF's `MarianSinusoidalPositionalEmbedding` is not a parameter).
 */
export class MarianWeights implements GraphWeights<MarianConfig> {
  constructor(
    readonly config: MarianConfig,
    private readonly tensors: ReadonlyMap<string, NamedTensor>,
  ) {}

  /** A float32 parameter; `shape` is checked. */
  get(name: string, shape: readonly number[]): Float32Array {
    const aliases: Record<string, string[]> = {
      'model.shared.weight': ['model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight'],
    };
    const tensor = [name, ...(aliases[name] ?? [])].map((n) => this.tensors.get(n)).find(Boolean);
    if (!tensor) return invalidData(`The weights have no ${name}.`);
    if (tensor.shape.join(',') !== shape.join(',')) {
      invalidData(`${name} has shape [${tensor.shape}], the config needs [${shape}].`);
    }
    if (!(tensor.data instanceof Float32Array)) return Float32Array.from(tensor.data as Float64Array);
    return tensor.data;
  }

  /** The sinusoidal position table `[max_position_embeddings, d_model]`. */
  positions(): Float32Array {
    const { max_position_embeddings: count, d_model: dim } = this.config;
    const stored = this.tensors.get('model.decoder.embed_positions.weight');
    if (stored && stored.shape.join(',') === `${count},${dim}`) return stored.data as Float32Array;
    // Marian's table: sin of even-index frequencies in the first half, cos in the second.
    const table = new Float32Array(count * dim);
    const half = Math.ceil(dim / 2);
    for (let pos = 0; pos < count; pos++) {
      for (let j = 0; j < dim; j += 2) {
        table[pos * dim + j / 2] = Math.sin(pos / 10000 ** (j / dim));
        if (j + 1 < dim) table[pos * dim + half + j / 2] = Math.cos(pos / 10000 ** (j / dim));
      }
    }
    return table;
  }
}

/** The table of {@link MarianWeights.positions}, stored once as HF's `embed_positions` buffer. */
function positionTable(weights: MarianWeights) {
  return [
    'model.decoder.embed_positions.weight',
    weights.config.max_position_embeddings,
    () => weights.positions(),
  ] as const;
}

/**
 * The Marian encoder (`encoder_model.onnx`, inputs and outputs as {@link encoderGraph} names them): post-norm
 * layers over token embeddings (× √d with `scale_embedding`) plus sinusoidal positions 0 … L − 1.
 */
export function encoderModel(weights: MarianWeights, format: WeightFormat): OnnxModel {
  const { config } = weights;
  return encoderGraph('marian_encoder', weights, format, (e, inputs) => {
    const w = e.writer;
    const length = w.op('Gather', [w.op('Shape', [inputs.inputIds]), w.int(1)], { axis: { int: 0 } });
    const positions = w.op('Range', [w.int(0), length, w.int(1)]);
    let x = w.op('Add', [
      e.tokenEmbeddings(inputs.inputIds),
      e.positionRows(...positionTable(weights), positions),
    ]);
    const bias = e.paddingBias(inputs.attentionMask);
    const heads = config.encoder_attention_heads;
    for (let i = 0; i < config.encoder_layers; i++) {
      const p = `model.encoder.layers.${i}`;
      x = e.layerNorm(
        w.op('Add', [x, e.selfAttention(x, `${p}.self_attn`, heads, bias)]),
        `${p}.self_attn_layer_norm`,
      );
      x = e.layerNorm(w.op('Add', [x, e.feedForward(x, p, config.encoder_ffn_dim)]), `${p}.final_layer_norm`);
    }
    return x;
  });
}

/**
 * The Marian merged decoder (`decoder_model_merged.onnx`, see {@link decoderGraph}): positions start at the past
 * length, post-norm layers, logits through the tied embedding plus `final_logits_bias`.
 */
export function decoderModel(weights: MarianWeights, format: WeightFormat): OnnxModel {
  const { config } = weights;
  return decoderGraph('marian_decoder_merged', weights, format, (e, context) => {
    const w = e.writer;
    let x = w.op('Add', [
      e.tokenEmbeddings(context.inputIds),
      e.positionRows(...positionTable(weights), context.queryPositions),
    ]);
    for (let i = 0; i < config.decoder_layers; i++) {
      const p = `model.decoder.layers.${i}`;
      x = e.layerNorm(w.op('Add', [x, context.selfAttention(x, i)]), `${p}.self_attn_layer_norm`);
      x = e.layerNorm(w.op('Add', [x, context.crossAttention(x, i)]), `${p}.encoder_attn_layer_norm`);
      x = e.layerNorm(w.op('Add', [x, e.feedForward(x, p, config.decoder_ffn_dim)]), `${p}.final_layer_norm`);
    }
    const vocab = config.vocab_size;
    const bias = w.weight(
      'final_logits_bias',
      'float32',
      [vocab],
      weights.get('final_logits_bias', [1, vocab]),
    );
    return e.tiedLogits(x, bias);
  });
}
