import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../../checkpoint/safetensors.js';
import { type LoraAdapters, loraLinear } from '../../lora/lora.js';
import { appendCache } from '../../model/kernels/decode-scan.js';
import { dropout } from '../../model/kernels/dropout.js';
import { layerNorm } from '../../model/kernels/layer-norm.js';
import { activate, causalBias, type DecoderState, embeddingLookup, paddingBias } from '../../model/marian.js';
import { matmul, matmulTransposed, withCachedWeightTransposes } from '../../model/matmul.js';
import type { Rng } from '../../rng.js';
import { assignValues, firstValue, type InitialValues, variableFrom } from '../initial-values.js';
import type { M2M100Config } from './configuration.js';

let nextModelId = 0;

/**
 * Rows `[0, rows)` of HF's `M2M100SinusoidalPositionalEmbedding.get_embedding(rows, dim, paddingIdx)`, computed in
 * float32 as PyTorch does: with h = dim/2, freq_i = exp(i · −ln(10000)/(h − 1)) for i < h, row p is
 * [sin(p·freq_0) … sin(p·freq_{h−1}), cos(p·freq_0) … cos(p·freq_{h−1})] (sin half, cos half: not interleaved, and
 * not Marian's 10000^(2i/d) frequencies), and the `paddingIdx` row is zero.
 *
 * @returns `[rows, dim]` row-major.
 */
export function m2m100SinusoidalTable(rows: number, dim: number, paddingIdx: number): Float32Array {
  const half = dim / 2;
  const step = Math.fround(-Math.log(10000) / (half - 1));
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.fround(Math.exp(Math.fround(i * step))));
  const table = new Float32Array(rows * dim);
  for (let p = 0; p < rows; p++) {
    if (p === paddingIdx) continue;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * freqs[i]);
      table[p * dim + i] = Math.sin(angle);
      table[p * dim + half + i] = Math.cos(angle);
    }
  }
  return table;
}

/**
 * HF `create_position_ids_from_input_ids`: each token's row of the sinusoidal table, (count of non-pad tokens up
 * to and including it + `past`) + `pad` for real tokens, `pad` (the zero row) for padding.
 *
 * @param ids - `[B, L]` row-major.
 */
export function m2m100PositionIds(ids: ArrayLike<number>, length: number, pad: number, past = 0): Int32Array {
  const out = new Int32Array(ids.length);
  for (let start = 0; start < ids.length; start += length) {
    let count = past;
    for (let j = start; j < start + length; j++) {
      if (ids[j] === pad) out[j] = pad;
      else out[j] = pad + ++count;
    }
  }
  return out;
}

/**
 * HF `M2M100ForConditionalGeneration` (the NLLB-200 and M2M100 checkpoints) over tfjs ops, with the public surface
 * of `MarianModel` that the trainer, scorer and decoder use. Parameters are tfjs variables named as HF's keys
 * (`model.encoder.layers.0.self_attn.q_proj.weight`) in PyTorch layouts (linear weights `[out, in]`).
 *
 * - Pre-norm layers: h ← h + Dropout(SelfAttn(LN h)); (decoder) h ← h + Dropout(CrossAttn(LN h, enc));
 *   h ← h + Dropout(fc2(ActDropout(act(fc1(LN h))))); each stack ends with its own `layer_norm`.
 * - Inputs: shared(ids) · √d (`scale_embedding`) + the sinusoidal rows of {@link m2m100PositionIds}, then dropout.
 * - `lm_head` is the shared embedding; there is no `final_logits_bias` ({@link outputBias} is a zero row, kept so
 *   the chunked loss takes both families alike, and never saved).
 * - LayerDrop: in training (an `rng` given), each layer is skipped with probability `encoder_layerdrop` /
 *   `decoder_layerdrop`, decided by the first draw of the `rng` the layer receives.
 * - The pad row of the shared embedding gets no gradient (`nn.Embedding(padding_idx)`).
 */
export class M2M100Model {
  readonly config: M2M100Config;
  /** Trainable parameters by HF name. */
  readonly params = new Map<string, tf.Variable>();
  /** Fixed buffers by HF name: none (HF's `final_logits_bias` is gone from M2M100; positions are not saved). */
  readonly buffers = new Map<string, tf.Variable>();
  /** LoRA adapters on target linear layers, when attached (`attachLora`); disposed with the model. */
  lora?: LoraAdapters;
  private readonly zeroBias: tf.Tensor2D;
  private table: Float32Array = new Float32Array(0);
  private tableRows = 0;

  /**
   * A model with random parameters (HF's `_init_weights`), or, with `initial`, with those loaded weights (see
   * {@link InitialValues}).
   */
  constructor(config: M2M100Config, rng: Rng, initial?: InitialValues) {
    this.config = config;
    const scope = `m2m100_${nextModelId++}/`;
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
        const keep = tf.sub(
          1,
          tf.reshape(tf.oneHot(tf.tensor1d([config.pad_token_id], 'int32'), vocab), [vocab, 1]),
        );
        return tf.mul(normal([vocab, d]), keep);
      }),
    );
    for (let i = 0; i < config.encoder_layers; i++) {
      const p = `model.encoder.layers.${i}`;
      attention(`${p}.self_attn`);
      norm(`${p}.self_attn_layer_norm`);
      linear(`${p}.fc1`, config.encoder_ffn_dim, d);
      linear(`${p}.fc2`, d, config.encoder_ffn_dim);
      norm(`${p}.final_layer_norm`);
    }
    norm('model.encoder.layer_norm');
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
    norm('model.decoder.layer_norm');
    this.zeroBias = tf.zeros([1, vocab]);
    this.ensurePositions(config.pad_token_id + 1 + config.max_position_embeddings + 1);
  }

  /** Releases every tensor. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.lora?.dispose();
    this.zeroBias.dispose();
  }

  /** Parameters as safetensors entries under HF's keys, `model.shared.weight` once (no tied copies, no positions). */
  toNamedTensors(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [name, v] of this.params) {
      out.set(name, { dtype: 'F32', shape: v.shape, data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /** Loads every parameter by name; shapes must match (see `resolveM2M100Tensors` for HF's key conventions). */
  loadNamedTensors(tensors: ReadonlyMap<string, NamedTensor>, source: string): void {
    for (const [name, v] of this.params) {
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
    const v = this.params.get(name);
    if (!v) throw new Error(`M2M100Model has no parameter ${name}.`);
    return v;
  }

  /** The output projection `[V, d]`: the shared embedding (`lm_head` is tied). */
  get outputWeight(): tf.Variable<tf.Rank.R2> {
    return this.p('model.shared.weight') as tf.Variable<tf.Rank.R2>;
  }

  /** A zero `[1, V]` row: M2M100 has no `final_logits_bias` (never trained, never saved). */
  get outputBias(): tf.Tensor2D {
    return this.zeroBias;
  }

  /** Grows the host sinusoidal table to `rows` rows (HF's `make_weights` when a sequence outgrows it). */
  private ensurePositions(rows: number): void {
    if (rows <= this.tableRows) return;
    this.table = m2m100SinusoidalTable(rows, this.config.d_model, this.config.pad_token_id);
    this.tableRows = rows;
  }

  /** Positional embeddings `[B, L, d]` of table rows `rows` (no gradient: the table is fixed). */
  private positionEmbeddings(rows: Int32Array, b: number, l: number): tf.Tensor3D {
    const d = this.config.d_model;
    let top = 0;
    for (const r of rows) top = Math.max(top, r);
    this.ensurePositions(top + 1);
    const out = new Float32Array(rows.length * d);
    rows.forEach((row, i) => {
      out.set(this.table.subarray(row * d, row * d + d), i * d);
    });
    return tf.tensor3d(out, [b, l, d]);
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

  private dropout(x: tf.Tensor, rate: number, rng: Rng | undefined): tf.Tensor {
    return rng && rate > 0 ? dropout(x, rate, rng.seed()) : x;
  }

  private heads(x: tf.Tensor, count: number): tf.Tensor4D {
    const [b, l, d] = x.shape;
    return tf.transpose(tf.reshape(x, [b, l, count, d / count]), [0, 2, 1, 3]);
  }

  private mergeHeads(x: tf.Tensor): tf.Tensor3D {
    const [b, h, l, dh] = x.shape;
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, l, h * dh]);
  }

  private query(x: tf.Tensor, prefix: string, count: number, rng?: Rng): tf.Tensor4D {
    const headDim = this.config.d_model / count;
    return this.heads(tf.mul(this.linear(x, `${prefix}.q_proj`, rng), headDim ** -0.5), count);
  }

  /** softmax(q·kᵀ + bias) · v through `out_proj`, attention dropout on the probabilities. */
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

  private selfAttention(x: tf.Tensor, prefix: string, heads: number, bias: tf.Tensor | undefined, rng?: Rng) {
    const q = this.query(x, prefix, heads, rng);
    const k = this.heads(this.linear(x, `${prefix}.k_proj`, rng), heads);
    const v = this.heads(this.linear(x, `${prefix}.v_proj`, rng), heads);
    return this.attend(q, k, v, bias, prefix, rng);
  }

  private feedForward(x: tf.Tensor, prefix: string, rng: Rng | undefined): tf.Tensor {
    const hidden = this.dropout(
      activate(this.linear(x, `${prefix}.fc1`, rng), this.config.activation_function),
      this.config.activation_dropout,
      rng,
    );
    return this.dropout(this.linear(hidden, `${prefix}.fc2`, rng), this.config.dropout, rng);
  }

  /** HF's LayerDrop: in training, skip with probability `rate` (the layer's first draw from `rng`). */
  private skipped(rate: number, rng: Rng | undefined): boolean {
    return rng !== undefined && rate > 0 && rng.next() < rate;
  }

  /**
   * Token embeddings × √d (when `scale_embedding`) + the sinusoidal positions of {@link m2m100PositionIds}, then
   * dropout: the input of layer 0 of either stack. `ids` `[B, L]` are padded with `pad_token_id`.
   */
  embedInputs(ids: tf.Tensor2D, rng?: Rng): tf.Tensor3D {
    const { config } = this;
    const [b, l] = ids.shape;
    const scale = config.scale_embedding ? Math.sqrt(config.d_model) : 1;
    const tokens = tf.mul(embeddingLookup(this.outputWeight, ids, config.pad_token_id), scale);
    const rows = m2m100PositionIds(ids.dataSync(), l, config.pad_token_id);
    const x = tf.add(tokens, this.positionEmbeddings(rows, b, l));
    return this.dropout(x, config.dropout, rng) as tf.Tensor3D;
  }

  /**
   * Parameters of one layer (`model.encoder.layers.3`), in a fixed order. The last layer of a stack also owns the
   * stack's final `layer_norm` (see {@link encoderLayer}).
   */
  layerParams(prefix: string): [string, tf.Variable][] {
    const own = [...this.params].filter(([name]) => name.startsWith(`${prefix}.`));
    const last = (side: 'encoder' | 'decoder', count: number) =>
      prefix === `model.${side}.layers.${count - 1}`;
    const final = last('encoder', this.config.encoder_layers)
      ? 'model.encoder.layer_norm'
      : last('decoder', this.config.decoder_layers)
        ? 'model.decoder.layer_norm'
        : undefined;
    return final ? [...own, ...[...this.params].filter(([name]) => name.startsWith(`${final}.`))] : own;
  }

  /**
   * Encoder layer `i` (HF `M2M100EncoderLayer`, pre-norm): x ← x + Dropout(SelfAttn(LN x)), then
   * x ← x + Dropout(fc2(ActDropout(act(fc1(LN x))))); skipped by LayerDrop in training. The last layer also
   * applies the encoder's final `layer_norm`, so that a caller stepping layer by layer (activation checkpointing)
   * sees the stack as a plain sequence of layers. `bias` `[B, 1, 1, S]` masks source padding.
   */
  encoderLayer(i: number, x: tf.Tensor, bias: tf.Tensor4D, rng?: Rng): tf.Tensor3D {
    const { config } = this;
    const p = `model.encoder.layers.${i}`;
    let h = x;
    if (!this.skipped(config.encoder_layerdrop, rng)) {
      const normed = this.layerNorm(h, `${p}.self_attn_layer_norm`);
      const attended = this.selfAttention(
        normed,
        `${p}.self_attn`,
        config.encoder_attention_heads,
        bias,
        rng,
      );
      h = tf.add(h, this.dropout(attended, config.dropout, rng));
      h = tf.add(h, this.feedForward(this.layerNorm(h, `${p}.final_layer_norm`), p, rng));
    }
    if (i === config.encoder_layers - 1) h = this.layerNorm(h, 'model.encoder.layer_norm');
    return h as tf.Tensor3D;
  }

  /**
   * Decoder layer `i` (HF `M2M100DecoderLayer`, pre-norm): causal self-attention, cross-attention over the encoder
   * output (masked by `encoded.bias`), feed-forward, each as x ← x + Dropout(Sublayer(LN x)); skipped by LayerDrop
   * in training. The last layer also applies the decoder's final `layer_norm`.
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
    let h = x;
    if (!this.skipped(config.decoder_layerdrop, rng)) {
      const attended = this.selfAttention(
        this.layerNorm(h, `${p}.self_attn_layer_norm`),
        `${p}.self_attn`,
        heads,
        causal,
        rng,
      );
      h = tf.add(h, this.dropout(attended, config.dropout, rng));
      const cq = this.query(
        this.layerNorm(h, `${p}.encoder_attn_layer_norm`),
        `${p}.encoder_attn`,
        heads,
        rng,
      );
      const ck = this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.k_proj`, rng), heads);
      const cv = this.heads(this.linear(encoded.hidden, `${p}.encoder_attn.v_proj`, rng), heads);
      const crossAttended = this.attend(cq, ck, cv, encoded.bias, `${p}.encoder_attn`, rng);
      h = tf.add(h, this.dropout(crossAttended, config.dropout, rng));
      h = tf.add(h, this.feedForward(this.layerNorm(h, `${p}.final_layer_norm`), p, rng));
    }
    if (i === config.decoder_layers - 1) h = this.layerNorm(h, 'model.decoder.layer_norm');
    return h as tf.Tensor3D;
  }

  /**
   * Encodes source ids `[B, S]` (padded with `pad_token_id`) into `[B, S, d]` (after the final `layer_norm`). Pass
   * `rng` to train (dropout and LayerDrop on).
   */
  encode(sourceIds: tf.Tensor2D, rng?: Rng): { hidden: tf.Tensor3D; bias: tf.Tensor4D } {
    const bias = paddingBias(sourceIds, this.config.pad_token_id);
    let x: tf.Tensor = this.embedInputs(sourceIds, rng);
    for (let i = 0; i < this.config.encoder_layers; i++) x = this.encoderLayer(i, x, bias, rng);
    return { hidden: x as tf.Tensor3D, bias };
  }

  /**
   * The decoder's last hidden states `[B, T, d]` (after its final `layer_norm`) for decoder inputs `[B, T]` (labels
   * shifted right after `decoder_start_token_id`, padding as `pad_token_id`). Only the causal mask, as in HF
   * training with labels: padded positions follow the real ones and their labels are ignored.
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

  /** Teacher-forced logits `[B, T, V]`: {@link decodeHidden} through the tied embedding (no bias). */
  decode(
    decoderIds: tf.Tensor2D,
    encoded: { hidden: tf.Tensor3D; bias: tf.Tensor4D },
    rng?: Rng,
  ): tf.Tensor3D {
    const hidden = this.decodeHidden(decoderIds, encoded, rng);
    const [b, t, d] = hidden.shape;
    const logits = matmulTransposed(tf.reshape(hidden, [b * t, d]), this.outputWeight);
    return tf.reshape(logits, [b, t, this.config.vocab_size]);
  }

  /**
   * Starts incremental decoding: the cross-attention keys and values of every layer for the encoder output (no
   * dropout). Call {@link step} once per token; the state works with `reorderState` / `disposeState`.
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
    const layers = Array.from({ length: this.config.decoder_layers }, (_, i) => ({
      crossKey: tensors[2 * i],
      crossValue: tensors[2 * i + 1],
    }));
    return { layers, bias: tf.clone(encoded.bias), length: 0 };
  }

  /**
   * One decoding step: ids `[N]` of the last tokens → logits `[N, V]` of the next, extending the self-attention
   * cache. A token's position is HF's with `past_key_values_length` = the steps so far: pad + 1 + length, or the
   * zero row for a `<pad>` token (HF feeds `<pad>` to rows that have finished).
   */
  step(state: DecoderState, ids: tf.Tensor1D): tf.Tensor2D {
    const { config } = this;
    const heads = config.decoder_attention_heads;
    const host = ids.dataSync();
    const rows = Int32Array.from(host, (id) =>
      id === config.pad_token_id ? id : config.pad_token_id + 1 + state.length,
    );
    const run = () => {
      const order = state.order && tf.tensor1d(state.order, 'int32');
      const n = host.length;
      const scale = config.scale_embedding ? Math.sqrt(config.d_model) : 1;
      const tokens = tf.mul(tf.gather(this.outputWeight, tf.cast(tf.reshape(ids, [n]), 'int32')), scale);
      let x: tf.Tensor = tf.add(
        tf.reshape(tokens, [n, 1, config.d_model]),
        this.positionEmbeddings(rows, n, 1),
      );
      const kept: tf.Tensor[] = [];
      for (let i = 0; i < config.decoder_layers; i++) {
        const p = `model.decoder.layers.${i}`;
        const cache = state.layers[i];
        const normed = this.layerNorm(x, `${p}.self_attn_layer_norm`);
        const q = this.query(normed, `${p}.self_attn`, heads);
        let k: tf.Tensor4D = this.heads(this.linear(normed, `${p}.self_attn.k_proj`), heads);
        let v: tf.Tensor4D = this.heads(this.linear(normed, `${p}.self_attn.v_proj`), heads);
        if (cache.selfKey && cache.selfValue) {
          k = appendCache(cache.selfKey, k, order);
          v = appendCache(cache.selfValue, v, order);
        }
        kept.push(k, v);
        x = tf.add(x, this.attend(q, k, v, undefined, `${p}.self_attn`, undefined));
        const cq = this.query(this.layerNorm(x, `${p}.encoder_attn_layer_norm`), `${p}.encoder_attn`, heads);
        x = tf.add(
          x,
          this.attend(cq, cache.crossKey, cache.crossValue, state.bias, `${p}.encoder_attn`, undefined),
        );
        x = tf.add(x, this.feedForward(this.layerNorm(x, `${p}.final_layer_norm`), p, undefined));
      }
      const hidden = tf.reshape(this.layerNorm(x, 'model.decoder.layer_norm'), [n, config.d_model]);
      // (W·hᵀ)ᵀ: XNNPACK streams the tied [V, d] weight as it is (see MarianModel.projectStep).
      const logits = tf.transpose(tf.matMul(this.outputWeight, tf.transpose(hidden))) as tf.Tensor2D;
      return { logits, kept };
    };
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
