import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../checkpoint/safetensors.js';
import { invalidData } from '../errors.js';
import { type LoraAdapters, loraLinear } from '../lora/lora.js';
import { assignValues, firstValue, type InitialValues, variableFrom } from '../models/initial-values.js';
import type { Rng } from '../rng.js';
import type { MarianConfig } from './config.js';
import { appendCache, gatherRows } from './kernels/decode-scan.js';
import { dropout } from './kernels/dropout.js';
import { layerNorm } from './kernels/layer-norm.js';
import { matmul, matmulTransposed, releaseWeightTransposes, withCachedWeightTransposes } from './matmul.js';
import { marianSinusoidTable } from './positions.js';

let nextModelId = 0;

/**
 * A Marian-style encoder–decoder transformer (post-norm, as HF `MarianMTModel`) over tfjs ops. Parameters are
 * tfjs variables named exactly as in HF Marian checkpoints (`model.encoder.layers.0.self_attn.q_proj.weight`),
 * with PyTorch layouts (linear weights `[out, in]`), so `model.safetensors` loads in HF transformers.
 */
export class MarianModel {
  readonly config: MarianConfig;
  /** Trainable parameters by HF name. */
  readonly params = new Map<string, tf.Variable>();
  /**
   * Fixed buffers by HF name, saved and loaded but never trained: `final_logits_bias` (`[1, V]`, a
   * `register_buffer` in HF `MarianMTModel`, so an optimizer never sees it).
   */
  readonly buffers = new Map<string, tf.Variable>();
  /** LoRA adapters on target linear layers, when attached (`attachLora`); disposed with the model. */
  lora?: LoraAdapters;
  /** Fixed sinusoidal positions `[max_position_embeddings, d_model]` (Marian layout: sin half, cos half). */
  readonly positions: tf.Tensor2D;

  /**
   * A model with random parameters (HF's `_init_weights`: normal(0, init_std) weights, zero biases, unit layer
   * norms, the padding row zero), or, with `initial`, with those loaded weights (see {@link InitialValues}).
   */
  constructor(config: MarianConfig, rng: Rng, initial?: InitialValues) {
    this.config = config;
    // tfjs variable names are global; prefix them so several models can live in one process.
    const scope = `marian${nextModelId++}/`;
    const { d_model: d, vocab_size: vocab } = config;
    const normal = (shape: number[]) => tf.randomNormal(shape, 0, config.init_std, 'float32', rng.seed());
    const add = (name: string, shape: number[], make: () => tf.Tensor) =>
      this.params.set(name, variableFrom(firstValue(initial, name, shape, make), true, scope + name));
    const linear = (prefix: string, out: number, inDim: number) => {
      add(`${prefix}.weight`, [out, inDim], () => normal([out, inDim]));
      add(`${prefix}.bias`, [out], () => tf.zeros([out]));
    };
    const norm = (prefix: string) => {
      add(`${prefix}.weight`, [d], () => tf.ones([d]));
      add(`${prefix}.bias`, [d], () => tf.zeros([d]));
    };
    const attention = (prefix: string) => {
      for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${prefix}.${p}`, d, d);
    };
    add('model.shared.weight', [vocab, d], () =>
      tf.tidy(() => {
        // Zero the padding row, as nn.Embedding(padding_idx) does.
        const keepRows = tf.reshape(tf.oneHot(tf.tensor1d([config.pad_token_id], 'int32'), vocab, 0, 1), [
          vocab,
          1,
        ]);
        return tf.mul(normal([vocab, d]), keepRows);
      }),
    );
    this.buffers.set(
      'final_logits_bias',
      variableFrom(
        firstValue(initial, 'final_logits_bias', [1, vocab], () => tf.zeros([1, vocab])),
        false,
        `${scope}final_logits_bias`,
      ),
    );
    for (let i = 0; i < config.encoder_layers; i++) {
      const p = `model.encoder.layers.${i}`;
      attention(`${p}.self_attn`);
      norm(`${p}.self_attn_layer_norm`);
      linear(`${p}.fc1`, config.encoder_ffn_dim, d);
      linear(`${p}.fc2`, d, config.encoder_ffn_dim);
      norm(`${p}.final_layer_norm`);
    }
    for (let i = 0; i < config.decoder_layers; i++) {
      const p = `model.decoder.layers.${i}`;
      attention(`${p}.self_attn`);
      norm(`${p}.self_attn_layer_norm`);
      attention(`${p}.encoder_attn`);
      norm(`${p}.encoder_attn_layer_norm`);
      linear(`${p}.fc1`, config.decoder_ffn_dim, d);
      linear(`${p}.fc2`, d, config.decoder_ffn_dim);
      norm(`${p}.final_layer_norm`);
    }
    this.positions = sinusoidalPositions(config.max_position_embeddings, d);
  }

  /** Releases every tensor. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    this.lora?.dispose();
    this.positions.dispose();
  }

  /**
   * Parameters and buffers as safetensors entries, under the keys HF `save_pretrained` writes for a tied Marian
   * model: `model.shared.weight` once (the tied `lm_head` / `embed_tokens` copies and the static sinusoidal
   * `embed_positions` are not written; `from_pretrained` rebuilds them).
   */
  toNamedTensors(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [name, v] of [...this.params, ...this.buffers]) {
      out.set(name, { dtype: 'F32', shape: v.shape, data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /** Loads parameters and buffers by name; shapes must match. Extra entries (positions, tied copies) are ignored. */
  loadNamedTensors(tensors: ReadonlyMap<string, NamedTensor>, source: string): void {
    for (const [name, v] of [...this.params, ...this.buffers]) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${source}: parameter ${name} is missing.`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        throw new Error(
          `${source}: parameter ${name} has shape [${t.shape}], the config needs [${v.shape}].`,
        );
      }
      assignValues(v, t.data as Float32Array);
    }
  }

  private p(name: string): tf.Variable {
    return this.params.get(name) ?? this.buffers.get(name)!;
  }

  /** The output projection `[V, d]` (the shared embedding: tied, as in every Marian model this app loads). */
  get outputWeight(): tf.Variable<tf.Rank.R2> {
    return this.p('model.shared.weight') as tf.Variable<tf.Rank.R2>;
  }

  /** The fixed `final_logits_bias` `[1, V]` added to every logit row. */
  get outputBias(): tf.Variable {
    return this.p('final_logits_bias');
  }

  /** x Wᵀ + b of module `prefix`, plus its LoRA term when adapters are attached (`rng`: their dropout). */
  private linear(x: tf.Tensor, prefix: string, rng?: Rng): tf.Tensor {
    const w = this.p(`${prefix}.weight`);
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, shape[shape.length - 1]]);
    const y = loraLinear(this.lora, prefix, flat, w, this.p(`${prefix}.bias`), rng);
    return tf.reshape(y, [...shape.slice(0, -1), w.shape[0]]);
  }

  private layerNorm(x: tf.Tensor, prefix: string): tf.Tensor {
    return layerNorm(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`), 1e-5);
  }

  private activation(x: tf.Tensor): tf.Tensor {
    return activate(x, this.config.activation_function);
  }

  private dropout(x: tf.Tensor, rate: number, rng: Rng | undefined): tf.Tensor {
    return rng && rate > 0 ? dropout(x, rate, rng.seed()) : x;
  }

  /** Embeds ids `[B, L]` scaled by √d plus positions from `offset`. */
  private embed(ids: tf.Tensor2D, offset: number): tf.Tensor3D {
    const [, length] = ids.shape;
    const scale = this.config.scale_embedding ? Math.sqrt(this.config.d_model) : 1;
    const tokens = tf.mul(
      embeddingLookup(this.p('model.shared.weight'), ids, this.config.pad_token_id),
      scale,
    );
    const positions = tf.slice(this.positions, [offset, 0], [length, this.config.d_model]);
    return tf.add(tokens, positions) as tf.Tensor3D;
  }

  /** Splits `[B, L, d]` into heads `[B, H, L, d/H]`. */
  private heads(x: tf.Tensor, count: number): tf.Tensor4D {
    const [b, l, d] = x.shape;
    return tf.transpose(tf.reshape(x, [b, l, count, d / count]), [0, 2, 1, 3]);
  }

  private mergeHeads(x: tf.Tensor): tf.Tensor3D {
    const [b, h, l, dh] = x.shape;
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, l, h * dh]);
  }

  /** Scaled dot-product attention over projected heads; `bias` is added to the scores (masks). */
  private attend(
    q: tf.Tensor4D,
    k: tf.Tensor4D,
    v: tf.Tensor4D,
    bias: tf.Tensor | undefined,
    prefix: string,
    rng: Rng | undefined,
  ): tf.Tensor3D {
    let scores = matmulTransposed(q, k);
    if (bias) scores = tf.add(scores, bias);
    const probs = this.dropout(tf.softmax(scores), this.config.attention_dropout, rng);
    return this.linear(this.mergeHeads(matmul(probs, v)), `${prefix}.out_proj`, rng) as tf.Tensor3D;
  }

  private query(x: tf.Tensor, prefix: string, count: number, rng?: Rng): tf.Tensor4D {
    const headDim = this.config.d_model / count;
    return this.heads(tf.mul(this.linear(x, `${prefix}.q_proj`, rng), headDim ** -0.5), count);
  }

  private feedForward(x: tf.Tensor, prefix: string, rng: Rng | undefined): tf.Tensor {
    const hidden = this.dropout(
      this.activation(this.linear(x, `${prefix}.fc1`, rng)),
      this.config.activation_dropout,
      rng,
    );
    return this.linear(hidden, `${prefix}.fc2`, rng);
  }

  /**
   * Encodes source ids `[B, S]` (padded with `pad_token_id`) into `[B, S, d]`. Pass `rng` to train (dropout on).
   */
  encode(sourceIds: tf.Tensor2D, rng?: Rng): { hidden: tf.Tensor3D; bias: tf.Tensor4D } {
    const { config } = this;
    const bias = paddingBias(sourceIds, config.pad_token_id);
    let x: tf.Tensor = this.embedInputs(sourceIds, rng);
    for (let i = 0; i < config.encoder_layers; i++) x = this.encoderLayer(i, x, bias, rng);
    return { hidden: x as tf.Tensor3D, bias };
  }

  /** Token embeddings × √d (when `scale_embedding`) + positions, then dropout: the input of layer 0. */
  embedInputs(ids: tf.Tensor2D, rng?: Rng): tf.Tensor3D {
    return this.dropout(this.embed(ids, 0), this.config.dropout, rng) as tf.Tensor3D;
  }

  /** Parameters of one layer (`model.encoder.layers.3`), in a fixed order. */
  layerParams(prefix: string): [string, tf.Variable][] {
    return [...this.params].filter(([name]) => name.startsWith(`${prefix}.`));
  }

  /**
   * Encoder layer `i` (HF `MarianEncoderLayer`, post-norm): x ← LN(x + Dropout(SelfAttn(x))), then
   * x ← LN(x + Dropout(fc2(Dropout(act(fc1 x))))). `bias` `[B, 1, 1, S]` masks source padding.
   */
  encoderLayer(i: number, x: tf.Tensor, bias: tf.Tensor4D, rng?: Rng): tf.Tensor3D {
    const { config } = this;
    const heads = config.encoder_attention_heads;
    const p = `model.encoder.layers.${i}`;
    const q = this.query(x, `${p}.self_attn`, heads, rng);
    const k = this.heads(this.linear(x, `${p}.self_attn.k_proj`, rng), heads);
    const v = this.heads(this.linear(x, `${p}.self_attn.v_proj`, rng), heads);
    const attended = this.attend(q, k, v, bias, `${p}.self_attn`, rng);
    x = this.layerNorm(tf.add(x, this.dropout(attended, config.dropout, rng)), `${p}.self_attn_layer_norm`);
    return this.layerNorm(
      tf.add(x, this.dropout(this.feedForward(x, p, rng), config.dropout, rng)),
      `${p}.final_layer_norm`,
    ) as tf.Tensor3D;
  }

  /**
   * Decoder layer `i` (HF `MarianDecoderLayer`, post-norm): causal self-attention, cross-attention over the encoder
   * output (masked by `encoderBias`), feed-forward, each followed by dropout, residual and LayerNorm.
   */
  decoderLayer(
    i: number,
    x: tf.Tensor,
    causal: tf.Tensor4D,
    encoded: { hidden: tf.Tensor; bias: tf.Tensor4D },
    rng?: Rng,
  ): tf.Tensor3D {
    const { config } = this;
    const heads = config.decoder_attention_heads;
    const p = `model.decoder.layers.${i}`;
    const q = this.query(x, `${p}.self_attn`, heads, rng);
    const k = this.heads(this.linear(x, `${p}.self_attn.k_proj`, rng), heads);
    const v = this.heads(this.linear(x, `${p}.self_attn.v_proj`, rng), heads);
    const selfAttended = this.attend(q, k, v, causal, `${p}.self_attn`, rng);
    x = this.layerNorm(
      tf.add(x, this.dropout(selfAttended, config.dropout, rng)),
      `${p}.self_attn_layer_norm`,
    );
    const cq = this.query(x, `${p}.encoder_attn`, heads, rng);
    const ck = this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.k_proj`, rng), heads);
    const cv = this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.v_proj`, rng), heads);
    const crossAttended = this.attend(cq, ck, cv, encoded.bias, `${p}.encoder_attn`, rng);
    x = this.layerNorm(
      tf.add(x, this.dropout(crossAttended, config.dropout, rng)),
      `${p}.encoder_attn_layer_norm`,
    );
    return this.layerNorm(
      tf.add(x, this.dropout(this.feedForward(x, p, rng), config.dropout, rng)),
      `${p}.final_layer_norm`,
    ) as tf.Tensor3D;
  }

  /**
   * Teacher-forced decoder: logits `[B, T, V]` for decoder inputs `[B, T]` (shifted right, starting with
   * `decoder_start_token_id`). Logits use the shared embedding as output projection (tied) plus
   * `final_logits_bias`.
   */
  decode(
    decoderIds: tf.Tensor2D,
    encoded: { hidden: tf.Tensor3D; bias: tf.Tensor4D },
    rng?: Rng,
  ): tf.Tensor3D {
    return this.project(this.decodeHidden(decoderIds, encoded, rng)) as tf.Tensor3D;
  }

  /**
   * The decoder's last hidden states `[B, T, d]` before the output projection (training computes the projection
   * and the loss in token chunks from these, so the `[B·T, V]` logits never exist at once). The decoder has the
   * causal mask only, as in HF: padded positions follow the real ones, and their labels are ignored.
   */
  decodeHidden(
    decoderIds: tf.Tensor2D,
    encoded: { hidden: tf.Tensor3D; bias: tf.Tensor4D },
    rng?: Rng,
  ): tf.Tensor3D {
    const causal = causalBias(decoderIds.shape[1]);
    let x: tf.Tensor = this.embedInputs(decoderIds, rng);
    for (let i = 0; i < this.config.decoder_layers; i++) x = this.decoderLayer(i, x, causal, encoded, rng);
    return x as tf.Tensor3D;
  }

  /** Hidden states `[..., d]` → logits `[..., V]` through the tied embedding. */
  private project(x: tf.Tensor): tf.Tensor {
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, this.config.d_model]);
    const logits = tf.add(matmulTransposed(flat, this.p('model.shared.weight')), this.p('final_logits_bias'));
    return tf.reshape(logits, [...shape.slice(0, -1), this.config.vocab_size]);
  }

  /**
   * The step's logits `[N, V]` as {@link project} makes them, through (W·hᵀ)ᵀ: XNNPACK streams the tied weight
   * `[V, d]` as it is, where h·Wᵀ needs its transpose (a copy per decoding: 58101 × 512 floats for OPUS-MT base)
   * and runs slower at a few rows (169 vs 268 ms at 40 rows there). Each logit is the same sum in the same order:
   * bit-identical.
   */
  private projectStep(x: tf.Tensor): tf.Tensor2D {
    const hidden = tf.reshape(x, [-1, this.config.d_model]);
    const transposed = tf.matMul(this.outputWeight, tf.transpose(hidden));
    return tf.add(tf.transpose(transposed), this.outputBias) as tf.Tensor2D;
  }

  /**
   * Starts incremental decoding: precomputes the cross-attention keys and values of every layer for the
   * encoder output (no dropout). Call {@link step} once per generated token.
   */
  startDecoding(encoded: { hidden: tf.Tensor3D; bias: tf.Tensor4D }): DecoderState {
    const heads = this.config.decoder_attention_heads;
    const tensors = tf.tidy(() => {
      const out: tf.Tensor4D[] = [];
      for (let i = 0; i < this.config.decoder_layers; i++) {
        const p = `model.decoder.layers.${i}`;
        out.push(this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.k_proj`), heads));
        out.push(this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.v_proj`), heads));
      }
      return out;
    });
    const layers: LayerCache[] = [];
    for (let i = 0; i < this.config.decoder_layers; i++) {
      layers.push({ crossKey: tensors[2 * i], crossValue: tensors[2 * i + 1] });
    }
    return { layers, bias: tf.clone(encoded.bias), length: 0 };
  }

  /**
   * One decoding step: ids `[N]` of the last tokens → logits `[N, V]` of the next, extending the self-attention
   * cache. The state's tensors are replaced (old ones disposed).
   */
  step(state: DecoderState, ids: tf.Tensor1D): tf.Tensor2D {
    const heads = this.config.decoder_attention_heads;
    const run = () => {
      // Rows reordered since the last step (reorderState): taken by the cache copy that appends this step.
      const order = state.order && tf.tensor1d(state.order, 'int32');
      let x: tf.Tensor = this.embed(tf.reshape(ids, [-1, 1]) as tf.Tensor2D, state.length);
      const kept: tf.Tensor[] = [];
      for (let i = 0; i < this.config.decoder_layers; i++) {
        const p = `model.decoder.layers.${i}`;
        const cache = state.layers[i];
        const q = this.query(x, `${p}.self_attn`, heads);
        let k: tf.Tensor4D = this.heads(this.linear(x, `${p}.self_attn.k_proj`), heads);
        let v: tf.Tensor4D = this.heads(this.linear(x, `${p}.self_attn.v_proj`), heads);
        if (cache.selfKey && cache.selfValue) {
          k = appendCache(cache.selfKey, k, order);
          v = appendCache(cache.selfValue, v, order);
        }
        kept.push(k, v);
        x = this.layerNorm(
          tf.add(x, this.attend(q, k, v, undefined, `${p}.self_attn`, undefined)),
          `${p}.self_attn_layer_norm`,
        );
        const cq = this.query(x, `${p}.encoder_attn`, heads);
        const crossAttended = this.attend(
          cq,
          cache.crossKey,
          cache.crossValue,
          state.bias,
          `${p}.encoder_attn`,
          undefined,
        );
        x = this.layerNorm(tf.add(x, crossAttended), `${p}.encoder_attn_layer_norm`);
        x = this.layerNorm(tf.add(x, this.feedForward(x, p, undefined)), `${p}.final_layer_norm`);
      }
      return { logits: this.projectStep(x), kept };
    };
    // The weights' transposes are kept across steps (released with the state): see withCachedWeightTransposes.
    const result = withCachedWeightTransposes(() => tf.tidy(run));
    state.layers.forEach((cache, i) => {
      cache.selfKey?.dispose();
      cache.selfValue?.dispose();
      cache.selfKey = result.kept[2 * i] as tf.Tensor4D;
      cache.selfValue = result.kept[2 * i + 1] as tf.Tensor4D;
    });
    state.order = undefined;
    state.length += 1;
    return result.logits;
  }
}

interface LayerCache {
  crossKey: tf.Tensor4D;
  crossValue: tf.Tensor4D;
  selfKey?: tf.Tensor4D;
  selfValue?: tf.Tensor4D;
}

/** Incremental decoding state: per-layer key/value caches, the source padding bias and the step count. */
export interface DecoderState {
  layers: LayerCache[];
  bias: tf.Tensor4D;
  length: number;
  /**
   * Rows of the self-attention caches the next step keeps, in order (set by {@link reorderState}; the step's
   * cache copy applies it, so the caches are copied once per step, not twice). Absent: every row in place.
   */
  order?: number[];
}

/**
 * Keeps rows `indices` of the decoding state, in that order (beam search reordering, and dropping finished
 * hypotheses): the self-attention caches always, the cross-attention keys/values and the source padding bias when
 * `cross` is set. A reorder within each sentence's group of rows can leave `cross` off, since those rows share one
 * source. The self-attention caches are reordered by the next {@link MarianModel.step} (it copies them anyway to
 * append the new position); the cross-attention tensors here, the replaced ones disposed.
 */
export function reorderState(
  state: DecoderState,
  indices: readonly number[],
  options: { cross?: boolean } = {},
): void {
  // The self-attention caches are reordered by the next step's copy (composed with a pending order).
  const pending = state.order;
  state.order = pending ? indices.map((row) => pending[row]) : [...indices];
  if (!options.cross) return;
  // Block copies on the wasm heap (gatherRows): the wasm backend's Gather walks element by element.
  const rows = tf.tensor1d([...indices], 'int32');
  const pick = <T extends tf.Tensor>(t: T): T => {
    const picked = gatherRows(t, rows);
    t.dispose();
    return picked;
  };
  for (const cache of state.layers) {
    cache.crossKey = pick(cache.crossKey);
    cache.crossValue = pick(cache.crossValue);
  }
  state.bias = pick(state.bias);
  rows.dispose();
}

/** Releases the state's tensors. */
export function disposeState(state: DecoderState): void {
  releaseWeightTransposes();
  for (const cache of state.layers) {
    tf.dispose(
      [cache.crossKey, cache.crossValue, cache.selfKey, cache.selfValue].filter(Boolean) as tf.Tensor[],
    );
  }
  state.bias.dispose();
}

/** Marian's sinusoidal table ({@link marianSinusoidTable}) as the model reads it, in float32. */
export function sinusoidalPositions(count: number, dim: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(marianSinusoidTable(count, dim)), [count, dim]);
}

/** `[B, 1, 1, S]`: 0 for real tokens, −1e9 for padding (added to attention scores). */
export function paddingBias(ids: tf.Tensor2D, padId: number): tf.Tensor4D {
  const [b, s] = ids.shape;
  return tf.reshape(tf.mul(tf.cast(tf.equal(ids, padId), 'float32'), -1e9), [b, 1, 1, s]);
}

/** `[1, 1, T, T]`: −1e9 above the diagonal, so position t sees positions ≤ t only. */
export function causalBias(length: number): tf.Tensor4D {
  const upper = tf.sub(1, tf.linalg.bandPart(tf.ones([length, length]), -1, 0));
  return tf.reshape(tf.mul(upper, -1e9), [1, 1, length, length]);
}

/**
 * HF `ACT2FN[name](x)`: `swish`/`silu` x·σ(x); `gelu` the exact x·Φ(x) = x/2·(1 + erf(x/√2)) (PyTorch's default
 * `nn.functional.gelu`); `gelu_new` the tanh approximation x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))); `relu`.
 */
export function activate(x: tf.Tensor, name: string): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    case 'gelu_new': {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
    }
    case 'swish':
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    default:
      throw new Error(`activation ${name} is not implemented`);
  }
}

/** Rows that answer the embedding lookups of given ids tensors (see {@link withEmbeddingRows}). */
let givenRows: ReadonlyMap<tf.Tensor, tf.Tensor> | undefined;

/**
 * Runs `fn` with every {@link embeddingLookup} of an ids tensor that is a key of `rows` answered by its value, the
 * table's rows for those ids (`[B·L, d]`, e.g. a variable made from {@link gatherRows}) instead of a gather. A
 * trainer differentiates with respect to those rows: the lookup's gradient then comes as one row per token, to be
 * added to the table's gradient with {@link addEmbeddingGradient}, instead of a dense `[V, d]` tensor (58101 × 512
 * floats at OPUS-MT base, made, added and read back twice a step). Lookups of other ids gather as usual.
 */
export function withEmbeddingRows<T>(rows: ReadonlyMap<tf.Tensor, tf.Tensor>, fn: () => T): T {
  const previous = givenRows;
  givenRows = rows;
  try {
    return fn();
  } finally {
    givenRows = previous;
  }
}

/**
 * Adds the embedding gradient `rows` `[N, d]` (d loss / d looked-up row, one per id of `ids`) to `target`, the
 * table's `[V, d]` gradient: the rows of each id summed in token order from zero, then added to its row of `target`
 * — the float32 operations of a dense lookup gradient added to `target` (ids equal to `paddingIdx` give none), for
 * the rows that id touches only.
 */
export function addEmbeddingGradient(
  target: Float32Array,
  ids: ArrayLike<number>,
  rows: Float32Array,
  dim: number,
  paddingIdx?: number,
): void {
  const slots = new Map<number, number>();
  const sums = new Float32Array(rows.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === paddingIdx) continue;
    let slot = slots.get(id);
    if (slot === undefined) {
      slot = slots.size;
      slots.set(id, slot);
    }
    const to = slot * dim;
    const from = i * dim;
    for (let j = 0; j < dim; j++) sums[to + j] += rows[from + j];
  }
  for (const [id, slot] of slots) {
    const to = id * dim;
    const from = slot * dim;
    for (let j = 0; j < dim; j++) target[to + j] += sums[from + j];
  }
}

/** Throws `INVALID_DATA` naming the first id of `ids` outside `[0, vocab)` (a gather would read past the table). */
export function checkTokenIds(ids: tf.Tensor, vocab: number): void {
  const values = ids.dataSync();
  for (let i = 0; i < values.length; i++) {
    const id = values[i];
    if (!(id >= 0 && id < vocab)) {
      invalidData(
        `embedding lookup: token id ${id} (position ${i} of the batch) is outside the vocabulary [0, ${vocab}).`,
      );
    }
  }
}

/**
 * The rows of `table` `[V, d]` for `ids` `[B, L]`, as `[B·L, d]` (no gradient): what {@link embeddingLookup} looks
 * up, for {@link withEmbeddingRows}. An id outside `[0, V)` throws `INVALID_DATA`.
 */
export function tableRows(table: tf.Tensor2D | tf.Variable, ids: tf.Tensor2D): tf.Tensor2D {
  checkTokenIds(ids, table.shape[0]);
  return tf.tidy(() => gatherRows(table, tf.reshape(ids, [-1]) as tf.Tensor1D)) as tf.Tensor2D;
}

/**
 * Embedding lookup as `nn.Embedding(V, d, padding_idx)`: rows of `table` for `ids` `[B, L]` (a block copy per token
 * on the wasm heap: {@link gatherRows}); the gradient is d table[v] = Σ_{i: ids_i = v} dy_i, summed on the host (the
 * wasm backend lacks `UnsortedSegmentSum`, and a one-hot matMul would build a `[B·L, V]` matrix), and the
 * `paddingIdx` row gets none. Trainers avoid that dense gradient with {@link withEmbeddingRows}. An id outside
 * `[0, V)` throws `INVALID_DATA`.
 */
export function embeddingLookup(
  table: tf.Tensor2D | tf.Variable,
  ids: tf.Tensor2D,
  paddingIdx?: number,
): tf.Tensor3D {
  const [b, l] = ids.shape;
  const [vocab, dim] = table.shape as [number, number];
  const given = givenRows?.get(ids);
  if (given) return tf.reshape(given, [b, l, dim]) as tf.Tensor3D;
  checkTokenIds(ids, vocab);
  const lookup = tf.customGrad((...inputs) => {
    const [weights, flatIds, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([flatIds]);
    return {
      value: gatherRows(weights, flatIds as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const indices = saved[0].dataSync();
        const upstream = dy.dataSync() as Float32Array;
        const grad = new Float32Array(vocab * dim);
        addEmbeddingGradient(grad, indices, upstream, dim, paddingIdx);
        return [tf.tensor2d(grad, [vocab, dim]), tf.zerosLike(saved[0])];
      },
    };
  });
  return tf.reshape(lookup(table, tf.reshape(ids, [-1])), [b, l, dim]) as tf.Tensor3D;
}
