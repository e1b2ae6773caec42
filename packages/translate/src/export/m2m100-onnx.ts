import type { OnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import { invalidData } from '../errors.js';
import type { M2M100Config } from '../models/m2m100/configuration.js';
import { m2m100SinusoidalTable } from '../models/m2m100/modeling.js';
import {
  decoderGraph,
  encoderGraph,
  type GraphEmitter,
  type GraphWeights,
  type WeightFormat,
} from './seq2seq-onnx.js';

/** NLLB-200 / M2M100 parameters by HF name, as `resolveM2M100Tensors` maps a checkpoint's keys. */
export class M2M100Weights implements GraphWeights<M2M100Config> {
  constructor(
    readonly config: M2M100Config,
    private readonly tensors: ReadonlyMap<string, NamedTensor>,
  ) {}

  get(name: string, shape: readonly number[]): Float32Array {
    const tensor = this.tensors.get(name);
    if (!tensor) return invalidData(`The weights have no ${name}.`);
    if (tensor.shape.join(',') !== shape.join(',')) {
      invalidData(`${name} has shape [${tensor.shape}], the config needs [${shape}].`);
    }
    return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as Float64Array);
  }

  /**
   * Rows of HF's `M2M100SinusoidalPositionalEmbedding` table as built at load: `max_position_embeddings` + 2
   * (at least up to position pad + max_position_embeddings). PyTorch grows the table for longer sequences; an
   * ONNX initializer cannot, so a longer sequence is a Gather out of range.
   */
  get positionRows(): number {
    const { max_position_embeddings: count, pad_token_id: pad } = this.config;
    return Math.max(count + 2, pad + 1 + count);
  }

  positions(): Float32Array {
    return m2m100SinusoidalTable(this.positionRows, this.config.d_model, this.config.pad_token_id);
  }
}

/**
 * Token embeddings (× √d with `scale_embedding`) plus the sinusoidal rows of HF's
 * `create_position_ids_from_input_ids`: mask = (ids ≠ pad), row = (cumsum(mask) + past) · mask + pad, so padding
 * reads the zero row and real tokens count from pad + 1 + past.
 */
function embed(e: GraphEmitter<M2M100Config>, weights: M2M100Weights, ids: string, past?: string): string {
  const w = e.writer;
  const pad = weights.config.pad_token_id;
  const mask = w.op('Cast', [w.op('Not', [w.op('Equal', [ids, w.int(pad)])])], { to: { int: 7 } });
  let counts = w.op('CumSum', [mask, w.int(1)]);
  if (past) counts = w.op('Add', [counts, past]);
  const rows = w.op('Add', [w.op('Mul', [counts, mask]), w.int(pad)]);
  const positions = e.positionRows(
    'model.embed_positions.weights',
    weights.positionRows,
    () => weights.positions(),
    rows,
  );
  return w.op('Add', [e.tokenEmbeddings(ids), positions]);
}

/**
 * The NLLB-200 / M2M100 encoder (`encoder_model.onnx`): pre-norm layers (x ← x + SelfAttn(LN x);
 * x ← x + FFN(LN x)) and the encoder's final `layer_norm`.
 */
export function m2m100EncoderModel(weights: M2M100Weights, format: WeightFormat): OnnxModel {
  const { config } = weights;
  return encoderGraph('m2m100_encoder', weights, format, (e, inputs) => {
    const w = e.writer;
    let x = embed(e, weights, inputs.inputIds);
    const bias = e.paddingBias(inputs.attentionMask);
    for (let i = 0; i < config.encoder_layers; i++) {
      const p = `model.encoder.layers.${i}`;
      const normed = e.layerNorm(x, `${p}.self_attn_layer_norm`);
      x = w.op('Add', [x, e.selfAttention(normed, `${p}.self_attn`, config.encoder_attention_heads, bias)]);
      const ffn = e.feedForward(e.layerNorm(x, `${p}.final_layer_norm`), p, config.encoder_ffn_dim);
      x = w.op('Add', [x, ffn]);
    }
    return e.layerNorm(x, 'model.encoder.layer_norm');
  });
}

/**
 * The NLLB-200 / M2M100 merged decoder (`decoder_model_merged.onnx`, inputs and outputs as Marian's): positions
 * from the non-pad count after the past length, pre-norm layers, the decoder's final `layer_norm`, logits through
 * the tied embedding with no bias.
 */
export function m2m100DecoderModel(weights: M2M100Weights, format: WeightFormat): OnnxModel {
  const { config } = weights;
  return decoderGraph('m2m100_decoder_merged', weights, format, (e, context) => {
    const w = e.writer;
    let x = embed(e, weights, context.inputIds, context.pastLength);
    for (let i = 0; i < config.decoder_layers; i++) {
      const p = `model.decoder.layers.${i}`;
      x = w.op('Add', [x, context.selfAttention(e.layerNorm(x, `${p}.self_attn_layer_norm`), i)]);
      x = w.op('Add', [x, context.crossAttention(e.layerNorm(x, `${p}.encoder_attn_layer_norm`), i)]);
      const ffn = e.feedForward(e.layerNorm(x, `${p}.final_layer_norm`), p, config.decoder_ffn_dim);
      x = w.op('Add', [x, ffn]);
    }
    return e.tiedLogits(e.layerNorm(x, 'model.decoder.layer_norm'));
  });
}
